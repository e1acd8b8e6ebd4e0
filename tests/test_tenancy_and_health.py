"""Across a real service process: health, readiness, OpenAPI, authentication and tenant isolation."""
import httpx


async def register(client, headers, company_id, **extra):
    body = {"company_id": company_id, "name": f"{company_id} 株式会社", "industry": "manufacturing",
            "employees": 25, "prefecture": "岐阜県", **extra}
    return await client.post("/api/v1/companies", json=body, headers=headers)


async def test_health_readiness_and_openapi(start_service):
    svc = await start_service("helpdesk_bot")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["nats"] and body["postgres"] and body["ready"]
        assert body["projections"]["helpdesk_bot.companies"]["lag"] == 0
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/api/v1/companies" in schema["paths"]
        assert "CompanyIn" in str(schema["components"])


async def test_every_api_call_needs_a_valid_token(start_service, auth_headers):
    svc = await start_service("helpdesk_bot")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await client.get("/api/v1/companies")).status_code == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/api/v1/companies", headers=bad)).status_code == 401
        from otasuke.platform.auth import issue_token

        forged = issue_token("another-deployments-key", subject="x", role="operator", partner_id="chubu")
        resp = await client.get("/api/v1/companies", headers={"Authorization": f"Bearer {forged}"})
        assert resp.status_code == 401


async def test_companies_and_partners_never_see_each_other(start_service, auth_headers):
    svc = await start_service("helpdesk_bot")
    chubu_op = auth_headers("operator", partner_id="chubu")
    kansai_op = auth_headers("operator", partner_id="kansai")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await register(client, chubu_op, "gifu-seiki")).status_code == 201
        assert (await register(client, chubu_op, "ena-foods")).status_code == 201
        assert (await register(client, kansai_op, "osaka-print")).status_code == 201

        # A partner operator sees its own companies only.
        listed = (await client.get("/api/v1/companies", headers=chubu_op)).json()
        assert sorted(c["company_id"] for c in listed) == ["ena-foods", "gifu-seiki"]
        assert (await client.get("/api/v1/companies/osaka-print", headers=chubu_op)).status_code == 404
        # …and cannot take over another partner's company id.
        assert (await register(client, chubu_op, "osaka-print")).status_code == 404

        # A company admin sees its own company only.
        gifu_admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
        listed = (await client.get("/api/v1/companies", headers=gifu_admin)).json()
        assert [c["company_id"] for c in listed] == ["gifu-seiki"]
        assert (await client.get("/api/v1/companies/ena-foods", headers=gifu_admin)).status_code == 404
        assert (await client.get("/api/v1/companies/gifu-seiki", headers=gifu_admin)).status_code == 200
        # …and cannot register companies.
        assert (await register(client, gifu_admin, "new-co")).status_code == 403


async def test_registering_twice_is_idempotent(start_service, auth_headers):
    svc = await start_service("helpdesk_bot")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        assert (await register(client, op, "gifu-seiki")).status_code == 201
        assert (await register(client, op, "gifu-seiki")).status_code == 201
        conflict = await register(client, op, "gifu-seiki", employees=99)
        assert conflict.status_code == 422
        assert "already registered" in conflict.json()["detail"]
    events, _ = await svc.runtime.store.load(
        __import__("otasuke.events", fromlist=["AggregateRef"]).AggregateRef(
            "enrolment", __import__("otasuke.events", fromlist=["Tenant"]).Tenant("chubu", "gifu-seiki"), "company", "gifu-seiki"))
    assert len(events) == 1
