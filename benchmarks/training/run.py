"""Phishing training: sending throughput and results latency for a 100,000-recipient campaign.

    .venv/bin/python benchmarks/training/run.py [--mails 2000] [--recipients 100000]

Starts embedded NATS and PostgreSQL, a local aiosmtpd relay and the training
service in-process, then prints:

1. mails/s: a campaign of ``--mails`` recipients in ``immediate`` mode, from
   the POST until the relay has received every mail, and until every send is
   recorded as an event and visible in the results;
2. a ``--recipients`` campaign created through the API (time to events and
   read model); realistic outcomes are then written into its (disposable)
   read-model rows, and the results API (overall + per department), a deep
   recipient page, the partner's table-5 measures and the company results
   page are timed (median of 5).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from otasuke.events import AggregateRef, EventStore, Tenant, ensure_streams
from otasuke.events.schemas.enrolment import CompanyRegistered, ServiceActivated
from otasuke.platform.auth import issue_token
from otasuke.platform.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from otasuke.platform.service import create_app, load_spec
from otasuke.platform.settings import Settings


class CountingRelay:
    def __init__(self):
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        return "250 OK"


async def register(nats_url: str, partner: str, company: str, employees: int) -> None:
    import nats

    nc = await nats.connect(nats_url)
    store = EventStore(nc)
    await ensure_streams(nc.jetstream())
    t = Tenant(partner, company)
    await store.append(AggregateRef("enrolment", t, "company", company), [CompanyRegistered(
        company_id=company, name=f"{company} 株式会社", industry="manufacturing", employees=employees,
        prefecture="愛知県")], expected_seq=None)
    await store.append(AggregateRef("enrolment", t, "application", company + "-pt"), [ServiceActivated(
        application_id=company + "-pt", service="phishing_training", activated_on=date.today())], expected_seq=None)
    await nc.close()


async def timed(fn, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


async def main(mails: int, recipients: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="otasuke-bench-training-"))
    nats_server = EmbeddedNats(tmp / "nats", name="bench-training").start()
    pg = EmbeddedPostgres(tmp / "pg").start()
    relay = CountingRelay()
    smtp_port = free_port()
    smtp = Controller(relay, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    os.environ.update({
        "OTASUKE_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "OTASUKE_TRAINING_POLL_SECONDS": "0.1",
    })
    key = secrets.token_hex(32)
    settings = Settings(nats_url=nats_server.url, database_url=pg.create_database("bench"), data_dir=tmp / "data",
                        ports={**Settings().ports, "training": free_port()}, signing_key=key)
    server = uvicorn.Server(uvicorn.Config(create_app(load_spec("training"), settings), host="127.0.0.1",
                                           port=settings.port("training"), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        await register(nats_server.url, "chubu", "bench-co", 120)
        await register(nats_server.url, "chubu", "big-co", 5000)
        op = {"Authorization": "Bearer " + issue_token(key, subject="bench", role="operator", partner_id="chubu")}
        async with httpx.AsyncClient(base_url=settings.url("training"), timeout=300) as client:
            while (await client.get("/api/v1/companies/big-co/training/history", headers=op)).status_code != 200:
                await asyncio.sleep(0.1)

            # 1. Sending throughput.
            body = {"company_id": "bench-co", "name": "bench", "template_id": "invoice",
                    "schedule": {"mode": "immediate"},
                    "recipients": [{"email": f"u{i}@bench.example.jp", "name": f"社員{i}", "department": f"部署{i % 12}"}
                                   for i in range(mails)]}
            t0 = time.perf_counter()
            cid = (await client.post("/api/v1/campaigns", json=body, headers=op)).json()["id"]
            t_created = time.perf_counter() - t0
            while relay.received < mails:
                await asyncio.sleep(0.05)
            t_relay = time.perf_counter() - t0
            while (await client.get(f"/api/v1/campaigns/{cid}/results", headers=op)).json()["sent"] < mails:
                await asyncio.sleep(0.1)
            t_recorded = time.perf_counter() - t0
            print(f"campaign of {mails} created (events + read model) in {t_created:.2f} s")
            print(f"sending: {mails / t_relay:,.0f} mails/s received by the relay; "
                  f"{mails / t_recorded:,.0f} mails/s sent and recorded as events in the read model")

            # 2. A large campaign: created through the API (events + read model), planned over June 2030
            # so nothing is sent; then realistic outcomes are written into the (disposable) read model.
            big_body = {"company_id": "big-co", "name": "大規模訓練", "template_id": "invoice",
                        "schedule": {"start": "2030-06-03T00:00:00+09:00", "end": "2030-06-15T00:00:00+09:00"},
                        "recipients": [{"email": f"user{i}@big.example.jp", "name": f"社員{i}",
                                        "department": f"部署{i % 40}"} for i in range(recipients)]}
            t0 = time.perf_counter()
            created = await client.post("/api/v1/campaigns", json=big_body, headers=op)
            assert created.status_code == 201, created.text[:300]
            big = created.json()["id"]
            print(f"{recipients:,}-recipient campaign created through the API (spread schedule, "
                  f"{recipients // 500} events, read model) in {time.perf_counter() - t0:.1f} s")
            pool = server.config.app.state.runtime.pool
            await pool.execute(
                """UPDATE recipients SET status='sent', sent_at = now() - interval '9 days',
                          opened_at = CASE WHEN n % 5 = 0 THEN now() - interval '8 days' END,
                          clicked_at = CASE WHEN n % 14 = 0 THEN now() - interval '8 days' + (n % 3600) * interval '1 second' END,
                          submitted_at = CASE WHEN n % 70 = 0 THEN now() - interval '8 days' END,
                          reported_at = CASE WHEN n % 9 = 0 THEN now() - interval '8 days' END,
                          post_completed_at = CASE WHEN n % 28 = 0 THEN now() - interval '7 days' END,
                          automated_requests = (n % 50 = 0)::int
                   FROM (SELECT recipient_id AS rid, row_number() OVER () AS n FROM recipients WHERE campaign_id=$1) x
                   WHERE recipient_id = x.rid""",
                big,
            )
            await pool.execute("ANALYZE recipients")

            async def results():
                r = await client.get(f"/api/v1/campaigns/{big}/results", headers=op)
                assert r.json()["recipients"] == recipients

            after = None
            for _ in range(20):  # walk 20 pages deep first
                after = (await client.get(f"/api/v1/campaigns/{big}/recipients", params={"limit": 500, **({"after": after} if after else {})}, headers=op)).json()["next_after"]

            async def deep_page():
                await client.get(f"/api/v1/campaigns/{big}/recipients", params={"limit": 500, "after": after}, headers=op)

            async def measures():
                await client.get("/api/v1/partner/training/measures", headers=op)

            async def page():
                await client.get("/api/v1/companies/big-co/training/report", headers=op)

            print(f"{recipients:,}-recipient campaign: results (overall + 40 departments) "
                  f"{await timed(results) * 1000:.0f} ms")
            print(f"  recipient page of 500, 10,000 rows deep: {await timed(deep_page) * 1000:.0f} ms")
            print(f"  partner table 5 + size bands: {await timed(measures) * 1000:.0f} ms")
            print(f"  company results page (HTML): {await timed(page) * 1000:.0f} ms")
    except Exception:
        import traceback

        traceback.print_exc()
        raise
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 30)
        finally:
            # Always stop the servers this script started, even if the service hung on the way out.
            smtp.stop()
            pg.stop()
            nats_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(main(args.mails, args.recipients))
