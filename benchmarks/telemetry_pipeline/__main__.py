"""End-to-end telemetry pipeline benchmark: HTTP ingest → INGEST stream → detection → alert event.

Run: ``.venv/bin/python -m benchmarks.telemetry_pipeline [--events 200000] [--batch 5000]``

Starts embedded NATS and PostgreSQL and the telemetry service in-process,
posts Suricata EVE batches (one in 50 events a C&C callback from one of 20
hosts) as fast as it can, and prints sustained events/s and the latency from
a batch's POST to the alert event for it (p50/p99), measured on the
TELEMETRY stream's own timestamps.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx


def batch_body(n: int, offset: int) -> bytes:
    now = datetime.now(UTC)
    lines = []
    for i in range(n):
        k = offset + i
        c2 = k % 50 == 0
        lines.append(json.dumps({
            "timestamp": (now + timedelta(microseconds=k)).isoformat(), "event_type": "alert" if c2 else "flow",
            "src_ip": f"192.168.1.{k % 20 + 1}", "dest_ip": "203.0.113.9" if c2 else "198.51.100.7",
            "src_port": 40000 + k % 1000, "dest_port": 443, "proto": "TCP",
            **({"alert": {"signature": "ET MALWARE CnC Beacon", "signature_id": 1, "action": "blocked"}} if c2 else {}),
        }))
    return "\n".join(lines).encode()


async def main(events: int, batch: int) -> None:
    from otasuke.events import AggregateRef, EventStore, Tenant, ensure_streams
    from otasuke.events.schemas.enrolment import CompanyRegistered
    from otasuke.platform.auth import issue_token
    from otasuke.platform.embedded import EmbeddedNats, EmbeddedPostgres, free_port
    from otasuke.platform.service import create_app, load_spec
    from otasuke.platform.settings import Settings
    import nats
    import uvicorn

    tmp = Path(tempfile.mkdtemp(prefix="otasuke-bench-"))
    ns = EmbeddedNats(tmp / "js", name="bench")
    ns.start()
    pg = EmbeddedPostgres(tmp / "pg")
    pg.start()
    key = secrets.token_hex(16)
    port = free_port()
    settings = Settings(nats_url=ns.url, database_url=pg.url("postgres"), data_dir=tmp / "data",
                        ports={**Settings().ports, "telemetry": port}, signing_key=key, log_level="warning")
    nc = await nats.connect(ns.url)
    await ensure_streams(nc.jetstream())
    store = EventStore(nc)
    await store.append(AggregateRef("enrolment", Tenant("p", "c"), "company", "c"), [CompanyRegistered(
        company_id="c", name="bench", industry="x", employees=1, prefecture="x")], expected_seq=0)
    app = create_app(load_spec("telemetry"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    rt = app.state.runtime
    for _ in range(100):
        if await rt.pool.fetchval("SELECT count(*) FROM companies"):
            break
        await asyncio.sleep(0.1)
    token = issue_token(key, subject="utm-bench", role="device", partner_id="p", company_id="c")
    bodies = [batch_body(batch, i * batch) for i in range(max(1, events // batch))]
    sent_at: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(4)

        async def post(i, body):
            async with sem:
                sent_at[i] = time.time()
                r = await client.post("/api/v1/ingest/suricata", content=body,
                                      headers={"Authorization": f"Bearer {token}", "X-Batch-Id": f"b{i}"})
                r.raise_for_status()

        await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
        t_ingest = time.perf_counter() - t0
        while True:
            info = await rt.js.consumer_info("INGEST", "telemetry_detection")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)
        t_total = time.perf_counter() - t0
    # Latency: INGEST message time of each batch → time of the alert event it caused.
    ingest_times = {}
    async for m in store.read("INGEST", "ingest.*.*.*.*.arrow", decode=False):
        ingest_times[m.metadata.sequence.stream] = m.metadata.timestamp.timestamp()
    lat = []
    from otasuke.events.envelope import derived_id  # noqa: F401
    async for m in store.read("TELEMETRY", "telemetry.p.c.alert.>", decode=False):
        lat.append(m.metadata.timestamp.timestamp())
    n = len(bodies) * batch
    print(f"events: {n:,} in {len(bodies)} batches of {batch:,}")
    print(f"HTTP ingest:          {n / t_ingest:,.0f} events/s")
    print(f"end to end (→ alert): {n / t_total:,.0f} events/s  ({t_total:.1f} s)")
    ts = sorted(ingest_times.values())
    if lat and ts:
        # Each alert event follows the batch it came from; pair them in order of arrival.
        gaps = sorted(max(0.0, a - b) for a, b in zip(sorted(lat), ts))
        print(f"alert latency (INGEST append → alert event): p50 {statistics.median(gaps) * 1000:.0f} ms, "
              f"p99 {gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] * 1000:.0f} ms over {len(gaps)} alert events")
    server.should_exit = True
    await task
    await nc.close()
    ns.stop()
    pg.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    a = ap.parse_args()
    asyncio.run(main(a.events, a.batch))
