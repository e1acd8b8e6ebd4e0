"""The event store against a real JetStream server."""
import asyncio

import pytest

from otasuke.events import ConcurrencyConflict, EventMeta, EventStore, derived_id
from otasuke.events.aggregate import Aggregate, execute

from .conftest import applied


async def test_append_and_load_round_trip(nc, app_ref):
    store = EventStore(nc)
    ref = app_ref("a1")
    recorded = await store.append(ref, [applied("a1"), applied("a1", "edr")], expected_seq=0,
                                  meta=EventMeta(actor="op-1"))
    events, last = await store.load(ref)
    assert [e.envelope.data.service for e in events] == ["utm", "edr"]
    assert last == recorded[-1].seq
    first = events[0].envelope
    assert first.partner_id == "p1" and first.company_id == "c1" and first.aggregate_id == "a1"
    assert first.type == "enrolment.service_applied" and first.version == 1
    assert first.actor == "op-1"
    assert first.correlation_id == first.id  # a new causal chain starts here
    assert events[1].envelope.correlation_id == events[1].envelope.id or events[1].envelope.correlation_id


async def test_concurrent_writer_gets_a_clear_conflict(nc, app_ref):
    store = EventStore(nc)
    ref = app_ref("a1")
    await store.append(ref, [applied("a1")], expected_seq=0)
    _, version = await store.load(ref)
    # Two writers loaded the same version; only the first may append.
    await store.append(ref, [applied("a1", "edr")], expected_seq=version)
    with pytest.raises(ConcurrencyConflict) as err:
        await store.append(ref, [applied("a1", "diagnosis")], expected_seq=version)
    assert ref.subject in str(err.value)
    events, _ = await store.load(ref)
    assert [e.envelope.data.service for e in events] == ["utm", "edr"]  # never interleaved


async def test_other_aggregates_do_not_conflict(nc, app_ref):
    store = EventStore(nc)
    await store.append(app_ref("a1"), [applied("a1")], expected_seq=0)
    # A different aggregate in the same stream has its own version.
    await store.append(app_ref("a2"), [applied("a2")], expected_seq=0)
    assert len((await store.load(app_ref("a2")))[0]) == 1


async def test_retried_append_is_deduplicated(nc, app_ref):
    store = EventStore(nc)
    ref = app_ref("a1")
    ids = [derived_id("cmd-42")]
    first = await store.append(ref, [applied("a1")], expected_seq=0, event_ids=ids)
    # The producer did not see the ack and retries the very same append.
    again = await store.append(ref, [applied("a1")], expected_seq=0, event_ids=ids)
    assert again[0].seq == first[0].seq
    events, _ = await store.load(ref)
    assert len(events) == 1


async def test_execute_retries_after_a_conflict_and_keeps_both_writes(nc, app_ref):
    store = EventStore(nc)
    ref = app_ref("a1")
    counter = Aggregate(initial=lambda: 0, evolve=lambda n, e: n + 1)

    async def add(service):
        return await execute(store, counter, ref, lambda n: [applied("a1", service)])

    results = await asyncio.gather(*(add(s) for s in ["utm", "edr", "diagnosis", "phishing_training"]))
    events, _ = await store.load(ref)
    assert len(events) == 4
    assert sorted(r.state for r in results) == [1, 2, 3, 4]


async def test_execute_with_command_id_is_idempotent(nc, app_ref):
    store = EventStore(nc)
    ref = app_ref("a1")
    counter = Aggregate(initial=lambda: 0, evolve=lambda n, e: n + 1)
    await execute(store, counter, ref, lambda n: [applied("a1")], command_id="apply-1")
    await execute(store, counter, ref, lambda n: [applied("a1")], command_id="apply-1")
    events, _ = await store.load(ref)
    assert len(events) == 1


async def test_a_late_retry_returns_the_first_outcome_without_deciding_again(nc, app_ref):
    # A command retried after other commands changed the aggregate must not
    # decide again on the newer state (it would append, or double-count in the
    # returned state): it is recognised in the history.
    store = EventStore(nc)
    ref = app_ref("a1")
    counter = Aggregate(initial=lambda: 0, evolve=lambda n, e: n + 1)
    first = await execute(store, counter, ref, lambda n: [applied("a1", "utm")], command_id="apply-utm")
    await execute(store, counter, ref, lambda n: [applied("a1", "edr")], command_id="apply-edr")
    retry = await execute(store, counter, ref, lambda n: [applied("a1", "utm"), applied("a1", "utm")],
                          command_id="apply-utm")
    events, _ = await store.load(ref)
    assert len(events) == 2
    assert retry.state == 2
    assert retry.appended == []
    assert [r.envelope.id for r in retry.replayed] == [r.envelope.id for r in first.appended]
