"""Kill the stream leader of a three-node JetStream cluster mid-stream and show nothing is lost or doubled.

Three real nats-server processes on loopback, streams with 3 replicas, four
producers appending events (retrying unacknowledged appends with the same
``Nats-Msg-Id``), one projection into PostgreSQL. The ENROLMENT stream's
leader is SIGKILLed after a third of the events, and brought back later.
"""
import asyncio
import time

import pytest

from cluster_workload import (
    ApplicationCounter,
    IngestLog,
    append_until_acked,
    expected_counts,
    read_model,
    retry_until,
)
from otasuke.events import ConsumerRunner, EventStore
from otasuke.events.streams import ENROLMENT

pytestmark = pytest.mark.cluster

TOTAL = 600
KILL_AFTER = 200
PRODUCERS = 4


async def until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)


def longest_pause_after(times: list[float], since: float) -> tuple[float, float]:
    """The longest gap between consecutive moments ending after ``since``: (its length, when it ended)."""
    gaps = [(b - a, b) for a, b in zip(times, times[1:]) if b > since]
    return max(gaps) if gaps else (0.0, since)


async def stream_ids(store: EventStore) -> list[str]:
    async def read():
        return [rec.envelope.id async for rec in store.read(ENROLMENT.name)]

    return await retry_until(read, 30.0, "a full read of the stream")


async def test_killing_the_stream_leader_loses_no_acknowledged_event_and_counts_none_twice(cluster, cluster_nc, pool):
    store = EventStore(cluster_nc, timeout=2.0)
    js = cluster_nc.jetstream(timeout=2.0)
    runner = ConsumerRunner(cluster_nc, ApplicationCounter(), pool)
    await runner.start()

    ingest = IngestLog()
    work = iter(range(TOTAL))  # shared by the producers

    async def producer():
        for i in work:
            await append_until_acked(store, i, ingest)

    positions: list[tuple[float, int]] = []

    async def watch_projection():
        while True:
            positions.append((time.monotonic(), runner.position))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_projection())
    producers = [asyncio.create_task(producer()) for _ in range(PRODUCERS)]

    await until(lambda: len(ingest.acked) >= KILL_AFTER, what=f"{KILL_AFTER} acknowledged events")
    leader = await cluster.leader_of(js, ENROLMENT.name)
    position_at_kill = runner.position
    killed_at = time.monotonic()
    cluster.node(leader).kill()

    await asyncio.gather(*producers)
    new_leader = await cluster.leader_of(js, ENROLMENT.name)
    last_seq = max(ingest.acked.values())
    await runner.wait_for(last_seq, timeout=90)
    watcher.cancel()

    # Bring the killed node back: it rejoins and catches up from the new leader.
    cluster.node(leader).start()

    # 1. Every acknowledged event is in the stream, exactly once.
    ids = await stream_ids(store)
    duplicates = len(ids) - len(set(ids))
    missing = set(ingest.acked) - set(ids)
    # 2. The read model counted each one once, and equals a rebuild from scratch.
    counts, seen = await read_model(pool)
    await runner.rebuild()
    await runner.wait_for(last_seq, timeout=90)
    rebuilt_counts, rebuilt_seen = await read_model(pool)
    await runner.stop()

    ingest_pause, ingest_resumed = longest_pause_after(ingest.ack_times, killed_at)
    moves = [t for (t, p), (_, q) in zip(positions, positions[1:]) if q != p]
    projection_pause, projection_resumed = longest_pause_after(moves, killed_at)
    print(
        f"\n[cluster failover] killed stream leader {leader} (new leader {new_leader}) after "
        f"{KILL_AFTER} acks\n"
        f"  events produced (acknowledged): {len(ingest.acked)} of {TOTAL}\n"
        f"  events in stream:               {len(ids)}\n"
        f"  duplicates in stream:           {duplicates}\n"
        f"  acknowledged but missing:       {len(missing)}\n"
        f"  producer retries:               {ingest.retries} {ingest.errors}\n"
        f"  ingest resumed after:           {ingest_resumed - killed_at:.2f}s after the kill "
        f"(acks paused {ingest_pause:.2f}s)\n"
        f"  projection resumed after:       {projection_resumed - killed_at:.2f}s after the kill "
        f"(paused {projection_pause:.2f}s)\n"
        f"  read model events applied:      {sum(seen.values())} (rebuild: {sum(rebuilt_seen.values())})"
    )

    assert len(ingest.acked) == TOTAL
    assert not missing
    assert duplicates == 0
    assert len(ids) == TOTAL
    assert counts == expected_counts(TOTAL)
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    assert (rebuilt_counts, rebuilt_seen) == (counts, seen)
    assert projection_resumed > killed_at, "the projection never moved after the leader was killed"


async def test_the_restarted_node_rejoins_and_the_stream_is_whole_on_it(cluster, cluster_nc):
    """After a node is killed and restarted, its replica catches up: reading from it alone gives every event."""
    store = EventStore(cluster_nc, timeout=2.0)
    js = cluster_nc.jetstream(timeout=2.0)
    ingest = IngestLog()
    for i in range(50):
        await append_until_acked(store, i, ingest)
    leader = await cluster.leader_of(js, ENROLMENT.name)
    victim = next(n for n in cluster.nodes if n.name != leader)
    victim.kill()
    for i in range(50, 120):
        await append_until_acked(store, i, ingest)
    victim.start()

    async def replica_current():
        info = await js.stream_info(ENROLMENT.name)
        peers = {p.name: p for p in (info.cluster.replicas or [])}
        if victim.name not in peers or not peers[victim.name].current:
            raise RuntimeError(f"{victim.name} not current yet")

    await retry_until(replica_current, 60.0, f"{victim.name} to catch up")
    # Make the restarted node the leader so a read has to come from its copy.
    await retry_until(lambda: _step_down_until(js, victim.name), 60.0, f"{victim.name} as leader")
    ids = await stream_ids(store)
    assert sorted(ids) == sorted(ingest.acked)


async def _step_down_until(js, wanted: str) -> None:
    info = await js.stream_info(ENROLMENT.name)
    if info.cluster.leader == wanted:
        return
    await js._api_request(f"{js._prefix}.STREAM.LEADER.STEPDOWN.{ENROLMENT.name}", b"", timeout=2.0)
    await asyncio.sleep(0.5)
    raise RuntimeError("leader is still " + str(info.cluster.leader))
