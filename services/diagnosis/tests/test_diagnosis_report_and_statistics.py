"""Partner statistics, comparison with the previous diagnosis, and the owner's report."""
import re
import subprocess

import httpx
from pypdf import PdfReader

from otasuke.diagnosis.domain import questionnaire as qn

API = "/api/v1"
Q = qn.current()


def answers_worth(fraction: float):
    """はい with all items for the first ``fraction`` of questions, いいえ after, one わからない."""
    cut = round(len(Q.questions) * fraction)

    def choose(q):
        if q["number"] == 24:
            return {"implemented": None, "items": []}
        if q["number"] <= cut:
            return {"implemented": True, "items": [i["id"] for i in q["items"]]}
        return {"implemented": False, "items": []}

    return choose


async def diagnose(client, headers, company_id, industry, choose, answer_all):
    did = (await client.post(f"{API}/diagnoses", json={"company_id": company_id, "industry": industry},
                             headers=headers)).json()["id"]
    await answer_all(client, headers, did, choose)
    result = (await client.post(f"{API}/diagnoses/{did}/complete", headers=headers)).json()
    return did, result


async def test_partner_statistics_comparison_and_report(start_service, auth_headers, register_company, answer_all, tmp_path):
    svc = await start_service("diagnosis")
    companies = [("gifu-seiki", "manufacturing", 8, 0.1), ("ena-foods", "hospitality", 30, 0.3),
                 ("seki-cutlery", "manufacturing", 45, 0.5), ("tajimi-tile", "manufacturing", 120, 0.8),
                 ("ogaki-print", "services", 3, 0.2)]
    for cid, industry, employees, _ in companies:
        await register_company(svc, "chubu", cid, industry=industry, employees=employees,
                               services=("utm",) if cid == "gifu-seiki" else ())
    await register_company(svc, "kansai", "osaka-print", industry="manufacturing")
    op = auth_headers("operator", partner_id="chubu")
    scores = {}
    async with httpx.AsyncClient(base_url=svc.url, timeout=120) as client:
        for cid, industry, _, fraction in companies:
            _, result = await diagnose(client, op, cid, industry, answers_worth(fraction), answer_all)
            scores[cid] = result["score"]
        # Another partner's company must not show up in chubu's figures.
        kansai = auth_headers("operator", partner_id="kansai")
        await diagnose(client, kansai, "osaka-print", "manufacturing", answers_worth(1.0), answer_all)

        stats = (await client.get(f"{API}/statistics", headers=op)).json()
        assert stats["companies_diagnosed"] == 5 and stats["companies_registered"] == 5
        assert sum(b["count"] for b in stats["distribution"]) == 5
        for cid, s in scores.items():
            assert any(b["low"] <= s <= b["high"] and b["count"] >= 1 for b in stats["distribution"])
        assert stats["at_or_below_300_percent"] == round(100 * sum(1 for s in scores.values() if s <= 300) / 5)
        rates = {r["question_id"]: r for r in stats["questions"]}
        assert rates["q01"]["implemented_rate"] == 1.0 and rates["q24"]["unknown_rate"] == 1.0
        assert rates["q19"]["implemented_rate"] == 0.2  # only tajimi-tile said はい to question 19
        industries = {g["key"]: g for g in stats["by_industry"]}
        assert industries["manufacturing"]["companies"] == 3 and industries["manufacturing"]["label"] == "製造業"
        assert {g["label"]: g["companies"] for g in stats["by_size"]} == {
            "1〜5人": 1, "6〜20人": 1, "21〜50人": 2, "101〜300人": 1}

        # gifu-seiki takes the diagnosis again a year later and improves.
        admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
        did, again = await diagnose(client, admin, "gifu-seiki", "manufacturing", answers_worth(0.4), answer_all)
        detail = (await client.get(f"{API}/diagnoses/{did}", headers=admin)).json()
        assert detail["previous_diagnosis_id"] is not None
        cmp = (await client.get(f"{API}/diagnoses/{did}/comparison", headers=admin)).json()
        assert cmp["previous_score"] == scores["gifu-seiki"] and cmp["delta"] == again["score"] - scores["gifu-seiki"] > 0
        assert "q05" in cmp["improved"]
        # Statistics count each company once, with its latest result.
        stats = (await client.get(f"{API}/statistics", headers=op)).json()
        assert stats["companies_diagnosed"] == 5

        html = (await client.get(f"{API}/diagnoses/{did}/report.html", headers=admin)).text
        pdf = (await client.get(f"{API}/diagnoses/{did}/report.pdf", headers=admin)).content

    # What the owner reads: score, band, standing, comparison, 3-5 concrete steps, services, IPA mapping.
    assert f"{again['score']}" in html and again["band_label"] in html
    assert "5社中" in html and "製造業" in html
    assert f"前回 {scores['gifu-seiki']} 点から" in html
    steps = re.findall(r'<span class="num">(\d)</span>', html)
    assert 3 <= len(steps) <= 5
    assert html.count("<b>だれが</b>") == len(steps) and html.count("<b>時間</b>") == len(steps)
    assert "ご契約中" in html  # gifu-seiki has the UTM service
    assert "5分でできる！情報セキュリティ自社診断" in html and "わからない" in html
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    reader = PdfReader(path)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "次にやること" in text and "点" in text
    fonts = {str(f) for page in reader.pages for f in (page.get("/Resources", {}).get("/Font", {}) or {}).values()}
    assert fonts, "the PDF embeds its fonts"
    # Render page one the way a reviewer looks at it.
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(path), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").exists()
