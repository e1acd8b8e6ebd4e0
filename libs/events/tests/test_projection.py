"""Projections against real JetStream and PostgreSQL: idempotence, rebuild, dead letters."""
import asyncio

import msgspec

from otasuke.events import ConsumerRunner, EventStore, tracing
from otasuke.events.deadletter import H_ORIGINAL_SEQ, H_REASON
from otasuke.events.projection import Projection
from otasuke.events.streams import DEADLETTER, ENROLMENT

from .conftest import AppliedCounter, applied


async def counts(pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT company_id, applications FROM applied_counts ORDER BY company_id")
    return {r["company_id"]: r["applications"] for r in rows}


async def until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def publish_applications(store, app_ref, n, company="c1", prefix="a"):
    last = None
    for i in range(n):
        last = (await store.append(app_ref(f"{prefix}{i}", company), [applied(f"{prefix}{i}")], expected_seq=0))[-1]
    return last


async def test_projection_applies_each_event_once_across_redelivery_and_restart(nc, pg_pool, app_ref):
    store = EventStore(nc)
    last = await publish_applications(store, app_ref, 5)
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await runner.start()
    await runner.wait_for(last.seq)
    assert await counts(pg_pool) == {"c1": 5}
    await runner.stop()

    # Force JetStream to deliver the whole stream again, as after a lost ack.
    js = nc.jetstream()
    await js.delete_consumer(ENROLMENT.name, "test_applied_counter")
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    await js.add_consumer(ENROLMENT.name, ConsumerConfig(
        durable_name="test_applied_counter", ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL, filter_subject="enrolment.>"))
    last = await publish_applications(store, app_ref, 2, prefix="b")
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await runner.start()
    await runner.wait_for(last.seq)
    await until(runner.caught_up)
    assert await counts(pg_pool) == {"c1": 7}  # 5 old (not re-counted) + 2 new
    await runner.stop()


async def test_rebuild_while_running_gives_the_same_read_model(nc, pg_pool, app_ref):
    store = EventStore(nc)
    await publish_applications(store, app_ref, 4, company="c1")
    last = await publish_applications(store, app_ref, 3, company="c2")
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await runner.start()
    await runner.wait_for(last.seq)
    before = await counts(pg_pool)
    assert before == {"c1": 4, "c2": 3}

    await runner.rebuild()
    await runner.wait_for(last.seq)
    await until(runner.caught_up)
    assert await counts(pg_pool) == before
    # And it keeps going after the rebuild.
    last = await publish_applications(store, app_ref, 1, company="c3")
    await runner.wait_for(last.seq)
    assert await counts(pg_pool) == {**before, "c3": 1}
    await runner.stop()


async def test_poison_messages_go_to_the_dead_letter_stream_and_the_consumer_keeps_going(nc, pg_pool, app_ref, tenant):
    store = EventStore(nc)
    js = nc.jetstream()
    await store.append(app_ref("ok1"), [applied("ok1")], expected_seq=0)
    await store.append(app_ref("bad"), [applied("bad")], expected_seq=0)  # the handler always fails on it
    await js.publish("enrolment.p1.c1.application.garbage", b"{not json", stream=ENROLMENT.name)
    last = (await store.append(app_ref("ok2"), [applied("ok2")], expected_seq=0))[-1]

    projection = AppliedCounter(fail_on={"bad"})
    runner = ConsumerRunner(nc, projection, pg_pool, max_deliveries=3, retry_delay=0.05)
    await runner.start()
    await runner.wait_for(last.seq, timeout=20)
    assert await counts(pg_pool) == {"c1": 2}
    assert runner.dead_lettered == 2

    dead = [m async for m in store.read(DEADLETTER.name, decode=False)]
    reasons = {m.headers[H_ORIGINAL_SEQ]: m.headers[H_REASON] for m in dead}
    assert len(dead) == 2
    assert any("cannot handle bad" in r for r in reasons.values())
    assert any("undecodable" in r for r in reasons.values())
    # The failing one was tried exactly max_deliveries times, not forever.
    assert projection.calls == 2 + 3
    await runner.stop()


async def test_trace_context_crosses_publish_and_consume(nc, pg_pool, app_ref):
    tracing.configure("test", "none")
    seen: list[str | None] = []

    class TraceRecorder(Projection):
        name = "test.trace_recorder"
        stream = ENROLMENT.name
        filter_subjects = ("enrolment.>",)

        async def apply(self, conn, event):
            seen.append(tracing.current_trace_id())

    store = EventStore(nc)
    with tracing.span("http request", kind="server"):
        trace_id = tracing.current_trace_id()
        rec = (await store.append(app_ref("t1"), [applied("t1")], expected_seq=0))[-1]
    assert rec.envelope.traceparent and trace_id in rec.envelope.traceparent

    runner = ConsumerRunner(nc, TraceRecorder(), pg_pool)
    await runner.start()
    await runner.wait_for(rec.seq)
    await runner.stop()
    assert seen == [trace_id]


async def test_read_model_lost_is_rebuilt_from_the_checkpoint(nc, pg_pool, app_ref):
    """If the database is restored empty, the projection replays instead of starting at the consumer's position."""
    store = EventStore(nc)
    last = await publish_applications(store, app_ref, 3)
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await runner.start()
    await runner.wait_for(last.seq)
    await runner.stop()
    async with pg_pool.acquire() as conn:
        await conn.execute("DROP TABLE applied_counts; DELETE FROM otasuke_checkpoints")
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await runner.start()
    await runner.wait_for(last.seq)
    assert await counts(pg_pool) == {"c1": 3}
    await runner.stop()


def test_envelope_json_is_readable():
    from otasuke.events import registry
    from otasuke.events.envelope import Tenant
    from otasuke.events.store import EventMeta, make_envelope
    from otasuke.events.streams import AggregateRef

    env = make_envelope(AggregateRef("enrolment", Tenant("p1", "c1"), "application", "a1"), applied("a1"), EventMeta())
    doc = msgspec.json.decode(registry.encode(env))
    assert doc["type"] == "enrolment.service_applied"
    assert doc["data"]["service"] == "utm"
    assert registry.decode(registry.encode(env)) == env
