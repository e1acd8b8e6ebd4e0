"""What people see: the learning pages and quiz in a real browser, the results page, the PDF and the results event."""
from __future__ import annotations

import io

import httpx
from pypdf import PdfReader

from otasuke.events.schemas.training import CampaignCompleted


async def test_a_clicker_learns_what_gave_it_away_reports_and_completes_the_quiz(
    training_env, start_service, auth_headers, nats_url, kit, browser
):
    box = training_env
    await kit.register_company(nats_url, "chubu", "gifu-seiki")
    svc = await start_service("training")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, admin, "gifu-seiki")
        body = {"company_id": "gifu-seiki", "name": "共有ファイル訓練", "template_id": "shared-document",
                "recipients": kit.people(3), "schedule": {"mode": "immediate"}}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=admin)).json()["id"]
        await kit.wait_until(lambda: len(box.messages) == 3, what="mails")
        await kit.wait_until(lambda: _sent(client, cid, admin, 3), what="sends recorded")

        page = await browser.new_page()
        # The person follows the link in the mail: a fake login appears first.
        await page.goto(svc.url + kit.link_in(box.to("staff000@example.co.jp")[0]))
        assert "ログインしてください" in await page.title()
        await page.fill("#account", "staff000@example.co.jp")
        await page.fill("#secret", "my-real-password")
        await page.click("#login")
        await page.wait_for_selector("#clues")
        assert await page.title() == "これは訓練メールでした"
        text = await page.inner_text("body")
        assert "入力された内容は送信も保存もされていません" in text
        assert "誰が共有したのか" in await page.inner_text("#clues")  # what gave this mail away
        assert "すぐに社内の担当者（管理者）に報告する" in text  # what to do now
        assert "次からはこうしましょう" in text  # what to do next time

        # Answering only part of the quiz is refused kindly.
        await page.check("input[name=q1][value='1']")
        await page.click("#quiz-submit")
        assert "まだ答えていない問題があります" in await page.inner_text("#quiz-error")
        for qid, choice in (("q1", "1"), ("q2", "2"), ("q3", "0")):
            await page.check(f"input[name={qid}][value='{choice}']")
        await page.click("#quiz-submit")
        await page.wait_for_selector("#score")
        assert "3問中 2問 正解" in await page.inner_text("#score")

        # Reporting after clicking is still the right thing to do.
        clicker = kit.link_in(box.to("staff000@example.co.jp")[0]).split("/")[2]
        await page.goto(f"{svc.url}/t/{clicker}/learn")
        await page.click("#report-now")
        await page.wait_for_selector("#thanks")

        # Another person reads the pre-learning page first and passes its quiz.
        token = kit.link_in(box.to("staff001@example.co.jp")[0]).split("/")[2]
        await page.goto(f"{svc.url}/t/{token}/learn?stage=pre")
        assert "事前学習" in await page.title()
        for qid, choice in (("q1", "1"), ("q2", "2"), ("q3", "1")):
            await page.check(f"input[name={qid}][value='{choice}']")
        await page.click("#quiz-submit")
        await page.wait_for_selector("#score")
        assert "3問中 3問 正解" in await page.inner_text("#score")

        r = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=admin)).json()
        assert (r["clicked"], r["submitted"], r["reported"]) == (1, 1, 1)
        assert r["learning_completed"] == 1 and r["pre_learning_completed"] == 1
        assert r["learning_completion_rate"] == 1.0
        assert r["median_seconds_to_click"] is not None
        stored = await svc.runtime.pool.fetch("SELECT * FROM recipients")
        assert "my-real-password" not in str(stored)


async def _sent(client, cid, headers, n):
    r = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=headers)).json()
    return r["sent"] == n


async def test_results_page_pdf_and_the_completed_event_for_other_services(
    training_env, start_service, auth_headers, nats_url, kit
):
    box = training_env
    await kit.register_company(nats_url, "chubu", "ena-foods", employees=12)
    svc = await start_service("training")
    op = auth_headers("operator", partner_id="chubu")
    ua = {"User-Agent": "Mozilla/5.0 Chrome/126.0"}
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, op, "ena-foods")
        body = {"company_id": "ena-foods", "name": "第1回 請求書訓練", "template_id": "invoice",
                "schedule": {"mode": "immediate"},
                "recipients_csv": "メールアドレス,氏名,部署,役職\n" + "".join(
                    f"p{i}@ena.example.jp,社員{i},{'営業部' if i < 6 else '製造部'},{'部長' if i == 0 else '一般'}\n"
                    for i in range(10))}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=op)).json()["id"]
        await kit.wait_until(lambda: len(box.messages) == 10, what="mails")
        await kit.wait_until(lambda: _sent(client, cid, op, 10), what="sends recorded")
        for i in (0, 1, 6):
            await client.get(kit.link_in(box.to(f"p{i}@ena.example.jp")[0]), headers=ua)
        reported = await client.post(f"/api/v1/campaigns/{cid}/reports", json={"email": "p7@ena.example.jp"}, headers=op)
        assert reported.json() == {"recorded": True}

        results = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=op)).json()
        by_position = {p["position"]: p for p in results["positions"]}
        assert by_position["部長"]["clicked"] == 1 and by_position["一般"]["clicked"] == 2
        assert [d["department"] for d in results["departments"]] == ["営業部", "製造部"]
        closed = await client.post(f"/api/v1/campaigns/{cid}/close", headers=op)
        assert closed.json()["status"] == "completed"

        html = (await client.get("/api/v1/companies/ena-foods/training/report", headers=op)).text
        assert "ena-foods 株式会社 様" in html
        assert "<strong>10人</strong> に送り" in html and "<strong>3人</strong> がリンクをクリック（クリック率 30%）" in html
        assert "営業部" in html and "製造部" in html
        pdf = await client.get("/api/v1/companies/ena-foods/training/report?format=pdf", headers=op, timeout=120)
        assert pdf.headers["content-type"] == "application/pdf"
        pdf_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split())
        assert "標的型メール訓練 結果報告" in pdf_text and "クリック率 30%" in pdf_text and "10人 に送り" in pdf_text

        history = (await client.get("/api/v1/companies/ena-foods/training/history", headers=op)).json()
        assert [p["click_rate"] for p in history] == [0.3]

        measures = (await client.get("/api/v1/partner/training/measures", headers=op)).json()
        assert measures["table5"][1]["label"] == "送信先10名以上" and measures["table5"][1]["companies"] == 1
        assert measures["table5"][1]["overall_click_rate"] == 0.3
        assert [r["companies"] for r in measures["by_company_size"]] == [0, 1, 0, 0, 0]

    # The help desk, the diagnosis and insurance read the final counts from the stream.
    completed = [rec.envelope async for rec in svc.runtime.store.read("TRAINING")
                 if isinstance(rec.envelope.data, CampaignCompleted)]
    assert len(completed) == 1
    event = completed[0]
    assert event.company_id == "ena-foods" and event.partner_id == "chubu"
    assert (event.data.sent, event.data.clicked, event.data.reported, event.data.opened) == (10, 3, 1, 3)
    by_dept = {d.department: d for d in event.data.departments}
    assert by_dept["営業部"].clicked == 2 and by_dept["製造部"].reported == 1
