"""The operator CLI against real servers: replay to JSON lines / Parquet, rebuild a projection, tokens."""
import asyncio
import json
import os
import subprocess
import sys

import httpx
import pyarrow.parquet as pq

from otasuke.events import AggregateRef, EventStore, Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered

OTASUKE = [sys.executable, "-m", "otasuke.platform.cli"]


def run_cli(args, settings, **kw):
    env = {**os.environ, **settings.as_env()}
    return subprocess.run([sys.executable, "-c", "from otasuke.platform.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=120, **kw)


async def seed_companies(nc, partners):
    store = EventStore(nc)
    for partner, companies in partners.items():
        for company in companies:
            ref = AggregateRef("enrolment", Tenant(partner, company), "company", company)
            await store.append(ref, [CompanyRegistered(company_id=company, name=company, industry="retail",
                                                       employees=10, prefecture="愛知県")], expected_seq=0)


async def test_replay_filters_by_subject_and_writes_jsonl_and_parquet(nc, settings, tmp_path):
    await seed_companies(nc, {"chubu": ["a", "b", "c"], "kansai": ["d"]})
    out = tmp_path / "chubu.jsonl"
    result = await asyncio.to_thread(run_cli, ["events", "replay", "--stream", "ENROLMENT",
                                               "--subject", "enrolment.chubu.>", "--out", str(out)], settings)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["event"]["company_id"] for r in lines] == ["a", "b", "c"]
    assert all(r["event"]["type"] == "enrolment.company_registered" for r in lines)
    assert "replayed 3 events" in result.stderr

    pq_out = tmp_path / "all.parquet"
    result = await asyncio.to_thread(run_cli, ["events", "replay", "--stream", "enrolment", "--format", "parquet",
                                               "--out", str(pq_out)], settings)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(pq_out)
    assert table.num_rows == 4
    assert sorted(table.column("company_id").to_pylist()) == ["a", "b", "c", "d"]
    assert set(table.column("type").to_pylist()) == {"enrolment.company_registered"}


async def test_replay_of_an_unknown_stream_says_so(nc, settings):
    result = await asyncio.to_thread(run_cli, ["events", "replay", "--stream", "NOPE"], settings)
    assert result.returncode == 2
    assert "cannot read stream NOPE" in result.stderr


async def test_rebuild_through_the_running_service_restores_the_read_model(nc, settings, start_service, auth_headers):
    await seed_companies(nc, {"chubu": ["a", "b"]})
    svc = await start_service("helpdesk_bot")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        for _ in range(100):
            if len((await client.get("/api/v1/companies", headers=op)).json()) == 2:
                break
            await asyncio.sleep(0.05)
        before = (await client.get("/api/v1/companies", headers=op)).json()
        assert len(before) == 2
        # Someone wrecks the read model; the rebuild puts it back from the stream.
        await svc.runtime.pool.execute("DELETE FROM companies")
        assert (await client.get("/api/v1/companies", headers=op)).json() == []
        result = await asyncio.to_thread(run_cli, ["events", "rebuild", "helpdesk_bot.companies"], settings)
        assert result.returncode == 0, result.stderr
        assert "rebuild started by the running helpdesk_bot service" in result.stderr
        for _ in range(100):
            after = (await client.get("/api/v1/companies", headers=op)).json()
            if len(after) == 2:
                break
            await asyncio.sleep(0.05)
        assert after == before


async def test_rebuild_without_a_running_service_rebuilds_in_the_cli(nc, settings):
    await seed_companies(nc, {"chubu": ["a", "b", "c"]})
    result = await asyncio.to_thread(run_cli, ["events", "rebuild", "diagnosis.companies"], settings)
    assert result.returncode == 0, result.stderr
    assert "rebuilding here" in result.stderr
    import asyncpg

    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "diagnosis"})
    try:
        assert await conn.fetchval("SELECT count(*) FROM companies") == 3
    finally:
        await conn.close()


def test_token_issue_mints_a_token_the_services_accept(settings):
    from otasuke.platform.auth import verify_token

    result = run_cli(["token", "issue", "--role", "company_admin", "--partner", "chubu", "--company", "gifu"], settings)
    assert result.returncode == 0, result.stderr
    principal = verify_token(settings.signing_key, result.stdout.strip())
    assert (principal.role, principal.partner_id, principal.company_id) == ("company_admin", "chubu", "gifu")
    bad = run_cli(["token", "issue", "--role", "device", "--partner", "chubu"], settings)
    assert bad.returncode == 2 and "needs a company_id" in bad.stderr
