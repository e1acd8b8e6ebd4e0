"""The JetStream event store: append with optimistic concurrency, load by aggregate.

Appending sets two headers:

* ``Nats-Msg-Id`` = the event id, so a retried publish is dropped by the
  stream's duplicate window (the ack says ``duplicate``) instead of stored twice;
* ``Nats-Expected-Last-Subject-Sequence`` = the stream sequence of the last
  event the writer saw on the aggregate's subject, so a concurrent writer gets
  :class:`ConcurrencyConflict` rather than interleaving its events.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from . import registry, tracing
from .envelope import Envelope, Recorded, new_id, utcnow
from .streams import AggregateRef

READ_STALL_LIMIT = 30.0
"""Seconds a read keeps asking while the server says messages remain but delivers none."""

H_MSG_ID = "Nats-Msg-Id"
H_EXPECTED_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
H_TYPE = "Otasuke-Type"

# JetStream error code for a failed Nats-Expected-Last-Subject-Sequence check.
_WRONG_LAST_SEQUENCE = 10071


class ConcurrencyConflict(Exception):
    """Someone else appended to the aggregate since it was loaded."""

    def __init__(self, subject: str, expected: int, detail: str = ""):
        super().__init__(
            f"concurrent write to {subject}: expected last sequence {expected}, "
            f"but the aggregate has moved on ({detail or 'reload and retry'})"
        )
        self.subject = subject
        self.expected = expected


class EventMeta(msgspec.Struct, frozen=True, kw_only=True):
    """Who and what caused the events being appended."""

    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None

    @classmethod
    def caused_by(cls, event: Envelope, actor: str | None = "system") -> "EventMeta":
        return cls(correlation_id=event.correlation_id, causation_id=event.id, actor=actor)


def make_envelope(
    ref: AggregateRef, payload: msgspec.Struct, meta: EventMeta, event_id: str | None = None
) -> Envelope:
    et = registry.type_of(payload)
    if et.context != ref.context:
        raise ValueError(f"{et.name} does not belong to context {ref.context!r}")
    eid = event_id or new_id()
    trace = tracing.current_trace_headers()
    return Envelope(
        id=eid,
        type=et.name,
        version=et.version,
        partner_id=ref.tenant.partner_id,
        company_id=ref.tenant.company_id,
        aggregate_id=ref.aggregate_id,
        occurred_at=utcnow(),
        correlation_id=meta.correlation_id or eid,
        causation_id=meta.causation_id,
        actor=meta.actor,
        traceparent=trace.get("traceparent"),
        tracestate=trace.get("tracestate"),
        data=payload,
    )


class EventStore:
    def __init__(self, nc: NATS, *, timeout: float = 5.0):
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout

    async def append(
        self,
        ref: AggregateRef,
        payloads: Sequence[msgspec.Struct],
        *,
        expected_seq: int | None,
        meta: EventMeta = EventMeta(),
        event_ids: Sequence[str] | None = None,
    ) -> list[Recorded]:
        """Append events to one aggregate.

        ``expected_seq`` is the aggregate's last stream sequence as loaded (0 for
        a new aggregate), or None to append unconditionally. Pass ``event_ids``
        derived from a command id to make a retried command a no-op.
        """
        recorded: list[Recorded] = []
        expected = expected_seq
        for i, payload in enumerate(payloads):
            env = make_envelope(ref, payload, meta, event_ids[i] if event_ids else None)
            rec = await self._publish(ref, env, expected)
            recorded.append(rec)
            if expected is not None:
                expected = rec.seq
        return recorded

    async def _publish(self, ref: AggregateRef, env: Envelope, expected: int | None) -> Recorded:
        headers = {H_MSG_ID: env.id, H_TYPE: env.type}
        headers.update(tracing.current_trace_headers())
        if expected is not None:
            headers[H_EXPECTED_SUBJECT_SEQ] = str(expected)
        with tracing.span(f"publish {env.type}", kind="producer", subject=ref.subject):
            try:
                ack = await self.js.publish(
                    ref.subject, registry.encode(env), stream=ref.stream.name, headers=headers, timeout=self.timeout
                )
            except APIError as exc:
                if exc.err_code != _WRONG_LAST_SEQUENCE:
                    raise
                # JetStream checks the expected sequence before the duplicate
                # window, so a retry of an append that did land looks like a
                # conflict. If our event id is already there, it is a duplicate.
                stored = await self._find_after(ref, expected or 0, env.id)
                if stored is not None:
                    return stored
                raise ConcurrencyConflict(ref.subject, expected or 0, exc.description or "") from exc
        return Recorded(env, ack.stream, ack.seq, ref.subject)

    async def _find_after(self, ref: AggregateRef, after_seq: int, event_id: str) -> Recorded | None:
        async for rec in self.read(ref.stream.name, ref.subject, start_seq=after_seq + 1):
            if rec.envelope.id == event_id:
                return rec
        return None

    async def publish(self, subject: str, stream: str, env: Envelope) -> Recorded:
        """Append without a concurrency check (logs such as conversation events)."""
        headers = {H_MSG_ID: env.id, H_TYPE: env.type, **tracing.current_trace_headers()}
        ack = await self.js.publish(subject, registry.encode(env), stream=stream, headers=headers, timeout=self.timeout)
        return Recorded(env, ack.stream, ack.seq, subject)

    async def last_seq(self, ref: AggregateRef) -> int:
        try:
            msg = await self.js.get_last_msg(ref.stream.name, ref.subject)
        except NotFoundError:
            return 0
        return msg.seq or 0

    async def load(self, ref: AggregateRef) -> tuple[list[Recorded], int]:
        """All events of one aggregate, in order, and its last sequence (0 if new)."""
        last = await self.last_seq(ref)
        if last == 0:
            return [], 0
        events = [rec async for rec in self.read(ref.stream.name, ref.subject, until_seq=last)]
        return events, last

    async def read(
        self,
        stream: str,
        subject: str | None = None,
        *,
        start_seq: int = 1,
        until_seq: int | None = None,
        batch: int = 256,
        decode: bool = True,
    ):
        """Iterate stored messages of a stream (optionally one subject filter) in order.

        Stops at ``until_seq`` or at the stream's end as it was when reading
        began. Yields :class:`Recorded` (or raw ``nats`` messages with
        ``decode=False``).
        """
        info = await self.js.stream_info(stream)
        end = until_seq if until_seq is not None else info.state.last_seq
        if end < start_seq or info.state.messages == 0:
            return
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(start_seq, info.state.first_seq),
            ack_policy=AckPolicy.NONE,
            filter_subject=subject,
            inactive_threshold=30.0,
            max_waiting=1,
        )
        sub = await self.js.pull_subscribe(subject or ">", durable=None, stream=stream, config=config)
        loop = asyncio.get_running_loop()
        stalled_since: float | None = None
        try:
            while True:
                try:
                    msgs = await sub.fetch(batch, timeout=1.0)
                except asyncio.TimeoutError:
                    # Nothing came: the end for this filter, or a slow answer (a leader election after
                    # a node died, a busy server). Only the consumer's empty backlog says which; a
                    # partial read must never pass for the whole stream.
                    if await self._nothing_pending(sub):
                        return
                    stalled_since = stalled_since or loop.time()
                    if loop.time() - stalled_since > READ_STALL_LIMIT:
                        raise TimeoutError(f"reading {stream}: messages remain but none arrived for {READ_STALL_LIMIT:.0f} s")
                    continue
                stalled_since = None
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    if seq > end:
                        return
                    yield _recorded(msg) if decode else msg
                    # num_pending counts what is left for this filter right now.
                    if seq >= end or msg.metadata.num_pending == 0:
                        return
        finally:
            try:
                await sub.unsubscribe()
            except Exception:  # the ephemeral consumer expires by itself
                pass

    @staticmethod
    async def _nothing_pending(sub: Any) -> bool:
        try:
            return (await sub.consumer_info()).num_pending == 0
        except Exception:  # no answer during a failover: not known to be empty
            return False


def _recorded(msg: Any) -> Recorded:
    env = registry.decode(msg.data)
    return Recorded(env, msg.metadata.stream, msg.metadata.sequence.stream, msg.subject)
