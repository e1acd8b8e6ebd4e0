"""End-to-end telemetry pipeline benchmark: HTTP ingest → INGEST stream → detection → alert event.

Run: ``.venv/bin/python -m benchmarks.telemetry_pipeline [--events 300000] [--batch 5000] [--rate 0]
[--cores 0,1] [--detection-processes 1] [--source suricata|sysmon]``

Starts embedded NATS and PostgreSQL and the telemetry service in-process,
posts Suricata EVE batches (one in 50 events a C&C callback from one of 20
hosts; ``--source sysmon``: Sysmon batches, one in 50 a shadow-copy deletion) as fast as it can (or at ``--rate`` events/s), and prints sustained
events/s and the alert latency per batch: every alert event carries its
batch id (``correlation_id``), so each one is matched to its own batch —

* POST → alert: from the moment the client started the batch's POST to the
  alert event's time on the TELEMETRY stream;
* ingest → alert: from the batch's append to INGEST to the alert event
  (both stream timestamps).

``--detection-processes N`` lets the service run detection in N processes of
its own (``OTASUKE_TELEMETRY_DETECTION_PROCESSES``) while it ingests. The process pins itself (and its children) to
``--cores`` and prints the load average before and after.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
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
        host = (k // 50) % 20 + 1 if c2 else k % 20 + 1
        lines.append(json.dumps({
            "timestamp": (now + timedelta(microseconds=k)).isoformat(), "event_type": "alert" if c2 else "flow",
            "src_ip": f"192.168.1.{host}", "dest_ip": "203.0.113.9" if c2 else "198.51.100.7",
            "src_port": 40000 + k % 1000, "dest_port": 443, "proto": "TCP",
            **({"alert": {"signature": "ET MALWARE CnC Beacon", "signature_id": 1, "action": "blocked"}} if c2 else {}),
        }))
    return "\n".join(lines).encode()


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process so far (the machine is shared: CPU time is the fair figure)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def sysmon_body(n: int, offset: int) -> bytes:
    """Sysmon process, network and file events; one in 50 a shadow-copy deletion on one of 20 PCs."""
    now = datetime.now(UTC)
    lines = []
    for i in range(n):
        k = offset + i
        bad = k % 50 == 0
        eid = 1 if bad else (1, 3, 11)[k % 3]
        rec = {"EventID": eid, "Channel": "Microsoft-Windows-Sysmon/Operational",
               "Computer": f"PC-{(k // 50) % 20 + 1:02d}" if bad else f"PC-{k % 20 + 1:02d}",
               "UtcTime": (now + timedelta(microseconds=k)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
               "ProcessGuid": f"{{{k:08x}-0000-0000-0000-000000000000}}", "ProcessId": 1000 + k % 5000,
               "Image": "C:\\Windows\\System32\\vssadmin.exe" if bad else "C:\\Program Files\\App\\app.exe",
               "User": "ACME\\taro"}
        if eid == 1:
            rec.update(CommandLine="vssadmin.exe delete shadows /all /quiet" if bad else f"app.exe --task {k % 97}",
                       ParentImage="C:\\Windows\\System32\\cmd.exe", IntegrityLevel="High",
                       Hashes="SHA256=" + "ab" * 32)
        elif eid == 3:
            rec.update(Protocol="tcp", SourceIp=f"192.168.1.{k % 200}", DestinationIp="198.51.100.7",
                       DestinationPort=443, Initiated=True)
        else:
            rec.update(TargetFilename=f"C:\\Users\\taro\\Documents\\file{k % 1000}.docx")
        lines.append(json.dumps(rec))
    return "\n".join(lines).encode()


async def main(events: int, batch: int, rate: float, detection_processes: int, source: str = "suricata") -> None:
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
    if detection_processes:
        # The service starts its own detection processes and only ingests itself (as in a deployment).
        os.environ["OTASUKE_TELEMETRY_DETECTION_PROCESSES"] = str(detection_processes)
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
    if detection_processes:
        for _ in range(300):  # until a detection process has bound its consumer
            try:
                await rt.js.consumer_info("INGEST", "telemetry_detection")
                break
            except Exception:
                await asyncio.sleep(0.1)
    token = issue_token(key, subject="utm-bench" if source == "suricata" else "pc-bench", role="device",
                        partner_id="p", company_id="c")
    make = batch_body if source == "suricata" else sysmon_body
    bodies = [make(batch, i * batch) for i in range(max(1, events // batch))]
    sent_at: dict[str, float] = {}
    load_before = os.getloadavg()
    pids = {"service (+ client)": "self", "NATS server": ns.proc.pid}
    for i, proc in enumerate(rt.extras.get("detection_processes", [])):
        pids[f"detection process {i + 1}"] = proc.pid
    cpu_before = {k: cpu_seconds(p) for k, p in pids.items()}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(4)

        async def post(i, body):
            if rate:  # offered load: batch i leaves at i * batch / rate seconds
                await asyncio.sleep(max(0.0, t0 + i * batch / rate - time.perf_counter()))
            async with sem:
                sent_at[f"b{i}"] = time.time()
                r = await client.post(f"/api/v1/ingest/{source}", content=body,
                                      headers={"Authorization": f"Bearer {token}", "X-Batch-Id": f"b{i}"})
                r.raise_for_status()

        await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
        t_ingest = time.perf_counter() - t0
        while True:
            info = await rt.js.consumer_info("INGEST", "telemetry_detection")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.02)
        t_total = time.perf_counter() - t0
    load_after = os.getloadavg()
    cpu = {k: cpu_seconds(p) - cpu_before[k] for k, p in pids.items()}
    # Each alert event names its batch (correlation_id); INGEST messages carry the batch id in a header.
    ingest_at: dict[str, float] = {}
    async for m in store.read("INGEST", "ingest.*.*.*.*.arrow", decode=False):
        bid = (m.headers or {}).get("Otasuke-Batch-Id")
        if bid:
            ingest_at.setdefault(bid, m.metadata.timestamp.timestamp())
    from_post, from_ingest, alert_batches = [], [], set()
    async for rec in store.read("TELEMETRY", "telemetry.p.c.alert.>"):
        bid = rec.envelope.correlation_id
        if bid not in sent_at:
            continue
        at = rec.envelope.occurred_at.timestamp()
        alert_batches.add(bid)
        from_post.append(at - sent_at[bid])
        if bid in ingest_at:
            from_ingest.append(at - ingest_at[bid])
    n = len(bodies) * batch
    print(f"cores {os.sched_getaffinity(0)}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
          f"{f'; detection in {detection_processes} process(es) of its own' if detection_processes else ''}")
    print(f"events: {n:,} {source} in {len(bodies)} batches of {batch:,}" + (f", offered at {rate:,.0f} events/s" if rate else ""))
    print(f"HTTP ingest:          {n / t_ingest:,.0f} events/s")
    print(f"end to end (→ alert): {n / t_total:,.0f} events/s  ({t_total:.1f} s)")
    print("CPU seconds while measured: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
          + f" → {n / max(sum(cpu.values()), 1e-9):,.0f} events per CPU-second")
    if from_post:
        ms = lambda v: f"{v * 1000:,.0f} ms"  # noqa: E731
        print(f"alert latency over {len(from_post)} alert events from {len(alert_batches)} batches:")
        print(f"  POST start → alert event:    p50 {ms(pct(from_post, .5))}, p99 {ms(pct(from_post, .99))}, "
              f"max {ms(max(from_post))}")
        print(f"  INGEST append → alert event: p50 {ms(pct(from_ingest, .5))}, p99 {ms(pct(from_ingest, .99))}, "
              f"max {ms(max(from_ingest))}")
    server.should_exit = True
    await task
    await nc.close()
    ns.stop()
    pg.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--rate", type=float, default=0.0, help="offered events/s (0: as fast as possible)")
    ap.add_argument("--cores", default="0,1", help="CPU cores to pin to (this process and its children)")
    ap.add_argument("--detection-processes", type=int, default=0,
                    help="detection processes the service starts (OTASUKE_TELEMETRY_DETECTION_PROCESSES)")
    ap.add_argument("--source", choices=("suricata", "sysmon"), default="suricata",
                    help="UTM (Suricata EVE) or EDR (Sysmon) batches")
    a = ap.parse_args()
    os.sched_setaffinity(0, {int(c) for c in a.cores.split(",")})
    asyncio.run(main(a.events, a.batch, a.rate, a.detection_processes, a.source))
