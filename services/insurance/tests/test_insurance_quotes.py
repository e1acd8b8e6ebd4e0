"""Top-up quotes through the API: priced from the latest diagnosis, reproducible from their event, printable, accepted into a policy."""
import io

import httpx
from pypdf import PdfReader

from otasuke.events import Tenant
from otasuke.events.schemas.diagnosis import AreaScore, DiagnosisCompleted
from otasuke.insurance.application.quoting import quote_ref
from otasuke.insurance.domain.pricing import reprice
from otasuke.insurance.tables import load_tables


async def complete_diagnosis(streams, partner, company, diagnosis_id, score, no=()):
    return await streams.emit(
        "diagnosis", Tenant(partner, company), "diagnosis", diagnosis_id,
        DiagnosisCompleted(diagnosis_id=diagnosis_id, questionnaire_version="2025.1", industry="wholesale_retail",
                           score=score, band="urgent" if score < 300 else "fair",
                           areas=[AreaScore(area="data", score=10, max_score=100)], not_implemented=list(no)),
    )


async def test_quote_uses_the_latest_diagnosis_and_can_be_recomputed_from_its_event(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "tajimi-shoten", industry="wholesale_retail")
    await complete_diagnosis(streams, "chubu", "tajimi-shoten", "d-old", 820)
    await complete_diagnosis(streams, "chubu", "tajimi-shoten", "d-new", 250, no=["q17", "q09"])
    await streams.activate("chubu", "tajimi-shoten", "utm", "app-utm")
    await settled()
    admin = auth_headers("company_admin", partner_id="chubu", company_id="tajimi-shoten")
    body = {"company_id": "tajimi-shoten", "industry": "小売業", "revenue_band": "100m_500m"}
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        resp = await client.post("/api/v1/quotes", json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        q = resp.json()
        assert q["premium_yen"] == 104_540  # 72,000 x 1.10 x 1.00 x 1.20 x 1.10, to 10 yen
        assert q["diagnosis"]["diagnosis_id"] == "d-new" and q["diagnosis"]["score"] == 250
        assert [c["key"] for c in q["conditions"]] == ["backup"]
        assert q["table_version"] == "2025.1" and "身代金（ランサムウェアの犯人に払うお金）そのもの" in q["not_covered_ja"]

        # The stored event alone gives the same price again.
        events, _ = await insurance.runtime.store.load(quote_ref(Tenant("chubu", "tajimi-shoten"), q["id"]))
        [issued] = [e.envelope.data for e in events]
        assert reprice(issued, load_tables(issued.table_version)).premium_yen == q["premium_yen"]

        # A retried request with the same request_id gets the same quote, not a second one.
        first = (await client.post("/api/v1/quotes", json={**body, "request_id": "r-1"}, headers=admin)).json()
        again = (await client.post("/api/v1/quotes", json={**body, "request_id": "r-1"}, headers=admin)).json()
        assert first["id"] == again["id"]
        assert len((await client.get("/api/v1/quotes", params={"company_id": "tajimi-shoten"}, headers=admin)).json()) == 2

        bad = await client.post("/api/v1/quotes", json={**body, "revenue_band": "3億"}, headers=admin)
        assert bad.status_code == 422 and "under_100m" in bad.json()["detail"]
        missing = await client.post("/api/v1/quotes", json={"company_id": "tajimi-shoten"}, headers=admin)
        assert missing.status_code == 400

        # Printable: the PDF carries the Japanese text and the premium.
        pdf = await client.get(f"/api/v1/quotes/{q['id']}/document.pdf", headers=admin)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "上乗せサイバー保険のお見積り" in text and "104,540円" in text and "バックアップ" in text
        html = await client.get(f"/api/v1/quotes/{q['id']}/document.html", headers=admin)
        assert "顧客情報が漏れて取引先から賠償を求められた" in html.text

        # Accepting issues a top-up policy next to the bundled one; accepting twice changes nothing.
        acc = await client.post(f"/api/v1/quotes/{q['id']}/accept", headers=admin)
        acc2 = await client.post(f"/api/v1/quotes/{q['id']}/accept", headers=admin)
        assert acc.status_code == 201 and acc2.json() == acc.json()
        policies = (await client.get("/api/v1/policies", params={"company_id": "tajimi-shoten"}, headers=admin)).json()
        assert sorted(p["tier"] for p in policies) == ["bundled", "top_up"]
        top = next(p for p in policies if p["tier"] == "top_up")
        assert top["annual_premium_yen"] == 104_540 and top["aggregate_limit_yen"] == 30_000_000
        assert top["id"] == acc.json()["policy_id"]

        cover = (await client.get("/api/v1/coverage", params={"company_id": "tajimi-shoten"}, headers=admin)).json()
        assert "上乗せの保険" in cover["answer_ja"] and "3,000万円" in cover["answer_ja"]
        leak = next(e for e in cover["examples"] if "賠償" in e["title_ja"])
        assert "損害賠償" in leak["covered_by_you_ja"]

        doc = await client.get(f"/api/v1/policies/{top['id']}/document.pdf", headers=admin)
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(doc.content)).pages)
        assert "上乗せのサイバー保険" in text and "3,000万円" in text


async def test_quote_without_a_diagnosis_says_so(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "seki-cutlery")
    await settled("insurance.companies")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        q = (await client.post("/api/v1/quotes", json={"company_id": "seki-cutlery", "industry": "manufacturing",
                                                         "revenue_band": "under_100m"}, headers=op)).json()
        assert q["diagnosis"] is None and q["premium_yen"] == 52_800 and q["conditions"] == []
        html = (await client.get(f"/api/v1/quotes/{q['id']}/document.html", headers=op)).text
        assert "セキュリティ診断がまだのため" in html
