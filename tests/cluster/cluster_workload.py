"""What the cluster tests run against a three-node JetStream cluster on loopback.

* :class:`LoopbackCluster` - three real nats-server processes (``EmbeddedNats``)
  routed into one JetStream cluster;
* :func:`append_until_acked` - an ingest producer that retries an
  unacknowledged append with the *same* event id (``Nats-Msg-Id``), so a
  publish that did land before the ack was lost is not stored twice;
* :class:`ApplicationCounter` - a projection whose numbers show any lost or
  double-counted event.

It is also a script: ``python cluster_workload.py project NATS_URL DATABASE_URL``
runs the projection in a process of its own, which the restart test SIGKILLs.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from otasuke.events import AggregateRef, ConcurrencyConflict, EventStore, Projection, Recorded, Tenant, derived_id
from otasuke.events.schemas.enrolment import ServiceApplied
from otasuke.events.streams import ENROLMENT, ensure_streams
from otasuke.platform.embedded import EmbeddedNats, free_port
from otasuke.platform.service import connect_nats

log = logging.getLogger("cluster")

PARTNER = "chubu"
COMPANIES = [f"c{i:02d}" for i in range(8)]


class LoopbackCluster:
    """Three nats-server processes forming one JetStream cluster on 127.0.0.1."""

    def __init__(self, root: Path, size: int = 3, name: str = "otasuke-loopback"):
        cluster_ports = [free_port() for _ in range(size)]
        routes = [f"nats-route://127.0.0.1:{p}" for p in cluster_ports]
        self.nodes = [
            EmbeddedNats(
                root / f"n{i}" / "js",
                name=f"n{i}",
                cluster_name=name if size > 1 else None,  # size 1: a plain server (benchmark baseline)
                cluster_port=cluster_ports[i],
                routes=routes,
                log_file=root / f"n{i}.log",
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self) -> "LoopbackCluster":
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def node(self, server_name: str) -> EmbeddedNats:
        return next(n for n in self.nodes if n.name == server_name)

    def running(self) -> list[EmbeddedNats]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    async def connect(self, name: str = "cluster-test"):
        # The services' own connect (unlimited reconnects), given every node.
        return await connect_nats([n.url for n in self.running()], name)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the cluster has a meta leader and the streams exist with 3 replicas."""
        nc = await self.connect("cluster-ready")
        try:
            js = nc.jetstream(timeout=2.0)
            await retry_until(lambda: ensure_streams(js, replicas=len(self.nodes)), timeout, "streams with 3 replicas")
        finally:
            await nc.close()

    async def leader_of(self, js, stream: str) -> str:
        async def leader():
            info = await js.stream_info(stream)
            if not (info.cluster and info.cluster.leader):
                raise RuntimeError("no leader yet")
            return info.cluster.leader

        return await retry_until(leader, 30.0, f"a leader for {stream}")


async def retry_until(action, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await action()
        except Exception as exc:  # noqa: BLE001 - the cluster is still electing
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what}: {exc!r}") from exc
            await asyncio.sleep(0.2)


def application_ref(i: int) -> AggregateRef:
    company = COMPANIES[i % len(COMPANIES)]
    return AggregateRef("enrolment", Tenant(PARTNER, company), "application", f"app{i:05d}")


def event_id(i: int) -> str:
    # Derived from the command (here: the index) so every retry carries the same Nats-Msg-Id.
    return derived_id(f"cluster-ingest:{i}")


@dataclass
class IngestLog:
    """What the producer was told: acknowledged event ids, their sequences, retries."""

    acked: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    ack_times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


async def append_until_acked(store: EventStore, i: int, ingest: IngestLog, deadline_s: float = 60.0) -> Recorded:
    """Append event ``i`` and retry with the same id until JetStream acknowledges it.

    An ack lost in a leader failover does not mean the event was lost: the
    retry either stores it (it never landed) or is recognised as the same
    event (duplicate window / the store's expected-sequence check).
    """
    ref = application_ref(i)
    eid = event_id(i)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            rec = (await store.append(ref, [ServiceApplied(application_id=ref.aggregate_id, service="utm")],
                                      expected_seq=0, event_ids=[eid]))[-1]
        except ConcurrencyConflict:
            raise  # someone else wrote this aggregate: a real bug, not a fault to ride out
        except Exception as exc:  # noqa: BLE001 - timeouts, no responders, 503 during elections
            ingest.retries += 1
            ingest.errors[type(exc).__name__] = ingest.errors.get(type(exc).__name__, 0) + 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        ingest.acked[eid] = rec.seq
        ingest.ack_times.append(time.monotonic())
        return rec


class ApplicationCounter(Projection):
    """Service applications per company and per service: a lost or double-counted event changes a number."""

    name = "cluster.application_counter"
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset({"enrolment.service_applied"})
    tables = ("application_counts", "application_seen")
    schema = """
    CREATE TABLE IF NOT EXISTS application_counts (
        company_id text PRIMARY KEY, applications integer NOT NULL);
    CREATE TABLE IF NOT EXISTS application_seen (
        event_id text PRIMARY KEY, seq bigint NOT NULL, times integer NOT NULL);
    """

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    async def apply(self, conn: asyncpg.Connection, event: Recorded) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow read model (an expensive query, a remote call)
        await conn.execute(
            """INSERT INTO application_counts VALUES ($1, 1)
               ON CONFLICT (company_id) DO UPDATE SET applications = application_counts.applications + 1""",
            event.envelope.company_id,
        )
        # `times` counts applications of the same event: 2 would be a double count.
        await conn.execute(
            """INSERT INTO application_seen VALUES ($1, $2, 1)
               ON CONFLICT (event_id) DO UPDATE SET times = application_seen.times + 1""",
            event.envelope.id, event.seq,
        )


async def read_model(pool: asyncpg.Pool) -> tuple[dict[str, int], dict[str, int]]:
    """(applications per company, times each event was applied)."""
    counts = {r["company_id"]: r["applications"] for r in await pool.fetch("SELECT * FROM application_counts")}
    seen = {r["event_id"]: r["times"] for r in await pool.fetch("SELECT * FROM application_seen")}
    return counts, seen


async def checkpoint(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS otasuke_checkpoints (projection text PRIMARY KEY, stream text NOT NULL,"
            " last_seq bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())"
        )
        value = await conn.fetchval("SELECT last_seq FROM otasuke_checkpoints WHERE projection=$1", ApplicationCounter.name)
    return int(value or 0)


def expected_counts(n: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in range(n):
        company = COMPANIES[i % len(COMPANIES)]
        out[company] = out.get(company, 0) + 1
    return out


async def _project_forever(nats_urls: list[str], database_url: str, delay: float) -> None:
    from otasuke.events import ConsumerRunner

    nc = await connect_nats(nats_urls, "projection-worker")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    runner = ConsumerRunner(nc, ApplicationCounter(delay=delay), pool)
    await runner.start()
    print("worker started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # python cluster_workload.py project URL[,URL...] DATABASE_URL [DELAY]
    logging.basicConfig(level=logging.WARNING)
    _, command, urls, db = sys.argv[:4]
    assert command == "project", command
    asyncio.run(_project_forever(urls.split(","), db, float(sys.argv[4]) if len(sys.argv) > 4 else 0.0))
