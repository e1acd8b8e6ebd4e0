"""Consumers on the three-node cluster: a stopped or slow consumer, a crashed worker, and the ops CLI.

* A stopped or slow projection never holds up ingest; its backlog waits in the
  replicated stream (not in the consumer's memory) and drains afterwards.
* A projection worker SIGKILLed mid-work loses nothing and counts nothing twice
  when it comes back (its checkpoint commits with the read model).
* ``otasuke events replay`` and ``otasuke events rebuild`` work against the
  cluster with its stream leader down.
"""
import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq
import pytest

from cluster_workload import (
    PARTNER,
    ApplicationCounter,
    IngestLog,
    append_until_acked,
    checkpoint,
    expected_counts,
    read_model,
    retry_until,
)
from otasuke.events import AggregateRef, ConsumerRunner, EventStore, Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered
from otasuke.events.streams import ENROLMENT

pytestmark = pytest.mark.cluster

WORKLOAD = Path(__file__).parent / "cluster_workload.py"


async def produce(store: EventStore, ingest: IngestLog, indices) -> None:
    for i in indices:
        await append_until_acked(store, i, ingest)


async def wait_until(predicate, timeout: float = 90.0, what: str = "condition") -> None:
    async def check():
        if not await predicate():
            raise RuntimeError(f"{what} not yet")

    await retry_until(check, timeout, what)


async def test_a_stopped_then_slow_projection_never_holds_up_ingest_and_its_backlog_drains(cluster, cluster_nc, pool):
    store = EventStore(cluster_nc, timeout=2.0)
    js = cluster_nc.jetstream(timeout=2.0)
    ingest = IngestLog()
    runner = ConsumerRunner(cluster_nc, ApplicationCounter(), pool)
    await runner.start()
    await produce(store, ingest, range(50))
    await runner.wait_for(max(ingest.acked.values()), timeout=60)
    await runner.stop()

    # The projection is down: ingest goes on and every append is acknowledged.
    await produce(store, ingest, range(50, 450))
    info = await js.consumer_info(ENROLMENT.name, ApplicationCounter().durable)
    # The stopped runner's last pull request may still have taken a message: it
    # counts as delivered-not-acknowledged and comes back when the projection restarts.
    backlog = info.num_pending + info.num_ack_pending
    assert len(ingest.acked) == 450
    assert backlog == 400  # waiting in the replicated stream, not in anyone's memory

    # A slow projection comes back while ingest continues.
    slow = ConsumerRunner(cluster_nc, ApplicationCounter(delay=0.003), pool, batch=32)
    await slow.start()
    in_flight: list[int] = []

    async def sample():
        while True:
            ci = await js.consumer_info(ENROLMENT.name, ApplicationCounter().durable)
            in_flight.append(ci.num_ack_pending)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    await produce(store, ingest, range(450, 550))
    await slow.wait_for(max(ingest.acked.values()), timeout=120)
    sampler.cancel()
    counts, seen = await read_model(pool)
    await slow.stop()
    print(f"\n[backlog] backlog while stopped: {backlog}; most messages in flight to the slow consumer: "
          f"{max(in_flight)} (consumer max_ack_pending {info.config.max_ack_pending})")

    assert len(ingest.acked) == 550
    assert counts == expected_counts(550)
    assert len(seen) == 550 and set(seen.values()) == {1}
    # Memory stays bounded: the consumer never has more than max_ack_pending messages out.
    assert max(in_flight) <= info.config.max_ack_pending


def start_worker(cluster, database_url: str, log: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKLOAD), "project", ",".join(cluster.urls), database_url, str(delay)],
        stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True,
    )


async def test_a_projection_worker_killed_mid_work_loses_nothing_and_counts_nothing_twice(
    cluster, cluster_nc, pool, database_url, tmp_path
):
    store = EventStore(cluster_nc, timeout=2.0)
    ingest = IngestLog()
    await produce(store, ingest, range(300))
    log = tmp_path / "worker.log"
    kills = []
    try:
        for stop_at in (60, 180):
            worker = start_worker(cluster, database_url, log, delay=0.01)
            await wait_until(lambda: _at_least(pool, stop_at), what=f"checkpoint {stop_at}")
            worker.send_signal(signal.SIGKILL)  # a crash: no shutdown hook, no final ack
            worker.wait()
            kills.append(await checkpoint(pool))
            await produce(store, ingest, range(len(ingest.acked), len(ingest.acked) + 50))
        worker = start_worker(cluster, database_url, log, delay=0.0)
        last = max(ingest.acked.values())
        await wait_until(lambda: _at_least(pool, last), what="the worker to catch up")
    finally:
        worker.kill()
        worker.wait()
    counts, seen = await read_model(pool)
    print(f"\n[restart] worker SIGKILLed at checkpoints {kills}; {len(ingest.acked)} events, "
          f"{sum(seen.values())} applied, {sum(1 for v in seen.values() if v > 1)} applied twice")
    assert counts == expected_counts(len(ingest.acked))
    assert len(seen) == len(ingest.acked) == 400
    assert set(seen.values()) == {1}, "an event was counted twice after a crash"


async def _at_least(pool, seq: int) -> bool:
    return await checkpoint(pool) >= seq


def run_cli(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from otasuke.platform.cli import main; main()", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=180, **kw,
    )


async def test_ops_replay_and_rebuild_work_against_the_cluster_with_its_leader_down(
    cluster, cluster_nc, database_url, tmp_path
):
    store = EventStore(cluster_nc, timeout=2.0)
    js = cluster_nc.jetstream(timeout=2.0)
    companies = [f"k{i:02d}" for i in range(12)]
    for company in companies:
        ref = AggregateRef("enrolment", Tenant(PARTNER, company), "company", company)
        await store.append(ref, [CompanyRegistered(company_id=company, name=f"{company} 株式会社", industry="製造業",
                                                   employees=20, prefecture="愛知県")], expected_seq=0)
    ingest = IngestLog()
    await produce(store, ingest, range(30))

    leader = await cluster.leader_of(js, ENROLMENT.name)
    cluster.node(leader).kill()
    await cluster.leader_of(js, ENROLMENT.name)
    survivor = cluster.running()[0]
    env = {"OTASUKE_NATS_URL": survivor.url, "OTASUKE_DATABASE_URL": database_url}

    replayed = await asyncio.to_thread(run_cli, ["events", "replay", "--stream", "ENROLMENT"], env)
    assert replayed.returncode == 0, replayed.stderr
    records = [json.loads(line) for line in replayed.stdout.splitlines()]
    types = [r["event"]["type"] for r in records]
    assert types.count("enrolment.company_registered") == len(companies)
    assert types.count("enrolment.service_applied") == 30

    out = tmp_path / "k03.parquet"
    one_company = await asyncio.to_thread(
        run_cli, ["events", "replay", "--stream", "ENROLMENT", "--subject", f"enrolment.{PARTNER}.k03.>",
                  "--format", "parquet", "--out", str(out)], env)
    assert one_company.returncode == 0, one_company.stderr
    assert pq.read_table(out).column("company_id").to_pylist() == ["k03"]

    rebuilt = await asyncio.to_thread(run_cli, ["events", "rebuild", "helpdesk_bot.companies", "--timeout", "120"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    conn = await asyncpg.connect(database_url)
    try:
        names = await conn.fetch("SELECT company_id, name FROM helpdesk_bot.companies ORDER BY company_id")
    finally:
        await conn.close()
    assert [(r["company_id"], r["name"]) for r in names] == [(c, f"{c} 株式会社") for c in companies]
