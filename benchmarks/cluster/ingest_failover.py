"""Ingest throughput on a 3-node loopback JetStream cluster, and the pause when the stream leader dies.

    .venv/bin/python benchmarks/cluster/ingest_failover.py [EVENTS] [PRODUCERS]

Prints appends/s with R3 streams (every append waits for a quorum of two
nodes), the same on one node with R1, and how long acknowledgements stop when
the ENROLMENT leader is SIGKILLed. Bounded: EVENTS appends per run (default 2000).
"""
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "cluster"))

from cluster_workload import IngestLog, LoopbackCluster, append_until_acked  # noqa: E402
from otasuke.events import EventStore  # noqa: E402
from otasuke.events.streams import ENROLMENT  # noqa: E402


async def run(size: int, events: int, producers: int, kill_at: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LoopbackCluster(Path(tmp), size=size).start()
        try:
            await cluster.wait_ready()
            nc = await cluster.connect("bench")
            store, ingest = EventStore(nc, timeout=2.0), IngestLog()
            work = iter(range(events))

            async def producer():
                for i in work:
                    await append_until_acked(store, i, ingest)

            started = time.monotonic()
            tasks = [asyncio.create_task(producer()) for _ in range(producers)]
            killed_at = None
            if kill_at is not None:
                while len(ingest.acked) < kill_at:
                    await asyncio.sleep(0.01)
                leader = await cluster.leader_of(nc.jetstream(), ENROLMENT.name)
                killed_at = time.monotonic()
                cluster.node(leader).kill()
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
            label = f"R{size} {'with leader kill' if kill_at is not None else ''}".strip()
            line = f"{label:>22}: {events} appends by {producers} producers in {elapsed:.2f}s = {events / elapsed:.0f}/s"
            if killed_at:
                gaps = [b - a for a, b in zip(ingest.ack_times, ingest.ack_times[1:]) if b > killed_at]
                line += f"; acks paused {max(gaps):.2f}s, {ingest.retries} retried appends"
            print(line, flush=True)
            await nc.close()
        finally:
            cluster.stop()


async def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    producers = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    await run(1, events, producers, None)
    await run(3, events, producers, None)
    await run(3, events, producers, events // 3)


if __name__ == "__main__":
    asyncio.run(main())
