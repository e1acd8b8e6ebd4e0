"""Tenants never see each other: company A not B's cover, partner P's insurer or operator not partner Q's."""
import httpx


async def test_companies_and_partners_never_see_each_others_insurance(insurance, streams, settled, auth_headers):
    for partner, company in (("chubu", "gifu-seiki"), ("chubu", "ena-foods"), ("kansai", "osaka-print")):
        await streams.company(partner, company)
        await streams.activate(partner, company, "utm", f"app-{company}")
    await settled()
    a_admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    chubu_insurer = auth_headers("insurer", partner_id="chubu")
    chubu_op = auth_headers("operator", partner_id="chubu")
    kansai_op = auth_headers("operator", partner_id="kansai")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        assert (await client.get("/api/v1/policies", params={"company_id": "gifu-seiki"})).status_code == 401

        own = (await client.get("/api/v1/policies", params={"company_id": "gifu-seiki"}, headers=a_admin)).json()
        assert [p["company_id"] for p in own] == ["gifu-seiki"]
        assert (await client.get("/api/v1/policies", headers=a_admin)).json() == own  # defaults to its own company
        b_policy = (await client.get("/api/v1/policies", params={"company_id": "ena-foods"}, headers=chubu_op)).json()[0]

        # Company A cannot see, print, quote, claim or ask about company B.
        assert (await client.get("/api/v1/policies", params={"company_id": "ena-foods"}, headers=a_admin)).status_code == 404
        assert (await client.get(f"/api/v1/policies/{b_policy['id']}", headers=a_admin)).status_code == 404
        assert (await client.get(f"/api/v1/policies/{b_policy['id']}/document.html", headers=a_admin)).status_code == 404
        quote = {"company_id": "ena-foods", "industry": "manufacturing", "revenue_band": "under_100m"}
        assert (await client.post("/api/v1/quotes", json=quote, headers=a_admin)).status_code == 404
        assert (await client.post("/api/v1/claims", json={"company_id": "ena-foods", "alert_id": "x"}, headers=a_admin)).status_code == 404
        assert (await client.get("/api/v1/coverage", params={"company_id": "ena-foods"}, headers=a_admin)).status_code == 404
        assert (await client.get("/api/v1/underwriting/book", headers=a_admin)).status_code == 403
        assert (await client.get("/api/v1/underwriting/companies/gifu-seiki", headers=a_admin)).status_code == 403

        # A partner's insurer sees its own book only; the other partner's companies do not exist for it.
        book = (await client.get("/api/v1/underwriting/book", headers=chubu_insurer)).json()
        assert sorted(line["company_id"] for line in book["companies"]) == ["ena-foods", "gifu-seiki"]
        assert (await client.get("/api/v1/underwriting/companies/osaka-print", headers=chubu_insurer)).status_code == 404
        assert (await client.get("/api/v1/policies", params={"company_id": "osaka-print"}, headers=chubu_insurer)).status_code == 404
        # An insurer reads; it does not buy cover for a company.
        assert (await client.post("/api/v1/quotes", json={**quote, "company_id": "gifu-seiki"}, headers=chubu_insurer)).status_code == 403

        # Partner Q's operator sees Q's companies only.
        listed = (await client.get("/api/v1/policies", headers=kansai_op)).json()
        assert [p["company_id"] for p in listed] == ["osaka-print"]
        assert (await client.get(f"/api/v1/policies/{b_policy['id']}", headers=kansai_op)).status_code == 404
        assert (await client.get("/api/v1/claims", params={"company_id": "gifu-seiki"}, headers=kansai_op)).status_code == 404
        assert (await client.get("/api/v1/quotes", params={"company_id": "gifu-seiki"}, headers=kansai_op)).status_code == 404
