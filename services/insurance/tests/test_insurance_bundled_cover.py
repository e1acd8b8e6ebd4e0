"""Bundled first-floor cover starts with a UTM/EDR service, stays single under redelivery, ends and comes back with it."""
from datetime import date

import httpx

from otasuke.events import Tenant, load
from otasuke.insurance.application.bundled_cover import BundledCover, policy_ref
from otasuke.insurance.domain import policy


async def test_activation_issues_one_bundled_policy_whatever_the_redeliveries(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "gifu-seiki")
    activation = await streams.activate("chubu", "gifu-seiki", "utm", "app-utm", event_id="act-utm-1")
    # The same event published again (a producer retry) is dropped by JetStream…
    await streams.activate("chubu", "gifu-seiki", "utm", "app-utm", event_id="act-utm-1")
    # …a second activation event for the same application (re-sent by the help desk) changes nothing…
    await streams.activate("chubu", "gifu-seiki", "utm", "app-utm", event_id="act-utm-2")
    # …and the diagnosis service carries no insurance.
    await streams.activate("chubu", "gifu-seiki", "diagnosis", "app-diag")
    await settled("insurance.bundled_cover")
    # A consumer redelivery: the reactor handles the very same record again.
    await BundledCover(insurance.runtime.store).handle(activation)
    await settled("insurance.book", "insurance.companies")

    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        resp = await client.get("/api/v1/policies", params={"company_id": "gifu-seiki"}, headers=admin)
    assert resp.status_code == 200, resp.text
    [p] = resp.json()
    assert p["tier"] == "bundled" and p["status"] == "active" and p["service"] == "utm"
    assert p["starts_on"] == "2025-04-01" and p["ends_on"] == "2026-04-01"
    assert p["aggregate_limit_yen"] == 1_000_000
    assert {c["key"]: c["limit_yen"] for c in p["covers"]} == {"investigation": 500_000, "recovery": 500_000, "notification": 300_000}
    events, _ = await insurance.runtime.store.load(policy_ref(Tenant("chubu", "gifu-seiki"), p["id"]))
    assert [e.envelope.type for e in events] == ["insurance.policy_issued"]


async def test_cover_ends_with_the_service_and_returns_with_it(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "ena-foods")
    await streams.activate("chubu", "ena-foods", "edr", "app-edr", on=date(2025, 4, 1))
    await streams.end("chubu", "ena-foods", "edr", "app-edr", on=date(2025, 9, 30))
    await settled("insurance.bundled_cover", "insurance.book")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        [p] = (await client.get("/api/v1/policies", params={"company_id": "ena-foods"}, headers=op)).json()
        assert p["status"] == "ended" and p["ended_on"] == "2025-09-30"
        coverage = (await client.get("/api/v1/coverage", params={"company_id": "ena-foods"}, headers=op)).json()
        assert coverage["has_cover"] is False and "ありません" in coverage["answer_ja"]

        await streams.activate("chubu", "ena-foods", "edr", "app-edr", on=date(2026, 1, 10))
        await settled("insurance.bundled_cover", "insurance.book")
        [again] = (await client.get("/api/v1/policies", params={"company_id": "ena-foods"}, headers=op)).json()
        assert again["id"] == p["id"] and again["status"] == "active"
        assert again["starts_on"] == "2026-01-10" and again["ends_on"] == "2027-01-10"


async def test_bundled_cover_renews_while_the_service_runs(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "mino-paper")
    await streams.activate("chubu", "mino-paper", "utm", "app-1", on=date(2023, 2, 28))
    await settled()
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        r1 = await client.post("/api/v1/policies/renewals", params={"today": "2025-03-15"}, headers=op)
        r2 = await client.post("/api/v1/policies/renewals", params={"today": "2025-03-15"}, headers=op)
        assert r1.status_code == 200 and len(r1.json()["renewed"]) == 2  # 2024 and 2025 periods
        assert r2.json()["renewed"] == []
        future = await client.post("/api/v1/policies/renewals", params={"today": "2999-01-01"}, headers=op)
        assert future.status_code == 400 and "future" in future.text
        await settled("insurance.book")
        [p] = (await client.get("/api/v1/policies", params={"company_id": "mino-paper"}, headers=op)).json()
    assert (p["starts_on"], p["ends_on"], p["renewals"]) == ("2025-02-28", "2026-02-28", 2)
    state, _ = await load(insurance.runtime.store, policy.POLICY, policy_ref(Tenant("chubu", "mino-paper"), p["id"]))
    assert state.status == "active"
