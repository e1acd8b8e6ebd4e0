"""Aggregates as pure functions, and the loop that runs a command against one.

An aggregate is ``initial`` state, ``evolve(state, event) -> state`` to fold its
history, and command functions ``decide(state) -> [events]``. The domain code
stays pure; :func:`execute` does the I/O: load, decide, append, and on a
concurrency conflict reload and decide again.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import msgspec

from .envelope import Envelope, derived_id
from .store import ConcurrencyConflict, EventMeta, EventStore
from .streams import AggregateRef

S = TypeVar("S")


class DomainError(Exception):
    """A command was refused by the domain (the message is for the user)."""


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    initial: Callable[[], S]
    evolve: Callable[[S, Envelope], S]

    def fold(self, events: Sequence[Envelope], state: S | None = None) -> S:
        st = self.initial() if state is None else state
        for env in events:
            st = self.evolve(st, env)
        return st


@dataclass
class Outcome(Generic[S]):
    state: S
    appended: list  # what this call wrote: empty when nothing was decided or it was a retry
    version: int
    replayed: list = field(default_factory=list)  # a recognised retry: what the first run wrote


async def load(store: EventStore, aggregate: Aggregate[S], ref: AggregateRef) -> tuple[S, int]:
    events, last = await store.load(ref)
    return aggregate.fold([r.envelope for r in events]), last


def _already_recorded(events: Sequence, command_id: str) -> list:
    """The events an earlier run of ``command_id`` appended (derived ids 0, 1, …), in order."""
    by_id = {r.envelope.id: r for r in events}
    found = []
    while (rec := by_id.get(derived_id(command_id, len(found)))) is not None:
        found.append(rec)
    return found


async def execute(
    store: EventStore,
    aggregate: Aggregate[S],
    ref: AggregateRef,
    decide: Callable[[S], Sequence[msgspec.Struct]],
    *,
    meta: EventMeta = EventMeta(),
    command_id: str | None = None,
    attempts: int = 5,
) -> Outcome[S]:
    """Load ``ref``, call ``decide`` on its state, append the result.

    ``command_id`` makes the command idempotent: the events get ids derived
    from it, so a client retry (or a redelivered message) is deduplicated by
    JetStream instead of appended twice. A retry that comes after the
    aggregate moved on (or after JetStream's duplicate window) is recognised in
    the history: nothing is decided again on the newer state, ``appended`` is
    empty (as for any command that changes nothing) and ``replayed`` holds
    what the first run recorded.
    """
    last_error: ConcurrencyConflict | None = None
    for _ in range(attempts):
        events, version = await store.load(ref)
        state = aggregate.fold([r.envelope for r in events])
        if command_id and (earlier := _already_recorded(events, command_id)):
            return Outcome(state, [], version, replayed=earlier)
        payloads = list(decide(state))
        if not payloads:
            return Outcome(state, [], version)
        ids = [derived_id(command_id, i) for i in range(len(payloads))] if command_id else None
        try:
            recorded = await store.append(ref, payloads, expected_seq=version, meta=meta, event_ids=ids)
        except ConcurrencyConflict as exc:
            last_error = exc
            continue
        for rec in recorded:
            state = aggregate.evolve(state, rec.envelope)
        return Outcome(state, recorded, recorded[-1].seq)
    assert last_error is not None
    raise last_error
