"""End to end over a real SMTP server on loopback: mails, headers, Japanese text, clicks, statistics."""
from __future__ import annotations

import httpx



async def test_campaign_mails_arrive_and_clicks_move_the_statistics(training_env, start_service, auth_headers, nats_url, kit):
    box = training_env
    await kit.register_company(nats_url, "chubu", "gifu-seiki")
    svc = await start_service("training")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, admin, "gifu-seiki")
        templates = (await client.get("/api/v1/templates", headers=admin)).json()
        assert {"id", "name"} <= set(templates[0]) and "delivery-notice" in [t["id"] for t in templates]

        body = {
            "company_id": "gifu-seiki", "name": "6月の訓練", "template_id": "delivery-notice",
            "recipients": kit.people(6) + [{"email": "nobody@example.co.jp", "name": "退職者", "department": "総務部"}],
            "schedule": {"mode": "immediate"},
        }
        created = await client.post("/api/v1/campaigns", json=body, headers=admin)
        assert created.status_code == 201, created.text
        cid = created.json()["id"]

        async def results():
            return (await client.get(f"/api/v1/campaigns/{cid}/results", headers=admin)).json()

        await kit.wait_until(lambda: len(box.messages) == 6, what="six mails")
        done = await kit.wait_until(lambda: _settled(results()), what="sent and failed recorded")
        assert done["sent"] == 6 and done["failed"] == 1

        mail = box.to("staff001@example.co.jp")[0]
        assert mail["X-Otasuke-Training"] == "1"
        assert mail["X-Otasuke-Campaign"] == cid
        assert mail["Subject"] == "【不在通知】お荷物のお届けにあがりましたが、ご不在でした"
        assert "宅配便 配達センター" in str(mail["From"])
        assert mail["Message-ID"].startswith("<r") and mail["Date"]
        text = mail.get_body(("plain",)).get_content()
        assert "社員 001 様" in text and "再配達" in text
        assert mail.get_body(("plain",))["Content-Type"].params["charset"] == "utf-8"
        html = mail.get_body(("html",)).get_content()
        assert "/o.gif" in html
        # Every recipient's link is their own.
        links = {kit.link_in(m) for m in box.messages}
        assert len(links) == 6

        # A person opens and clicks; a scanner's HEAD request does not count.
        click = kit.link_in(mail)
        pixel = click[:-1] + "o.gif"
        browser_ua = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"}
        assert (await client.head(click, headers=browser_ua)).status_code == 200
        assert (await client.get(pixel, headers=browser_ua)).headers["content-type"] == "image/gif"
        landed = await client.get(click, headers=browser_ua, follow_redirects=True)
        assert landed.status_code == 200
        assert "これは訓練メールでした" in landed.text and "担当者に報告する" in landed.text
        scanner = await client.get(kit.link_in(box.to("staff002@example.co.jp")[0]),
                                   headers={"User-Agent": "Proofpoint URL Defense"}, follow_redirects=True)
        assert scanner.status_code == 200

        # Someone else reports the mail without clicking: the behaviour to reward.
        report_page = kit.link_in(box.to("staff003@example.co.jp")[0]).replace("/c", "/report")
        assert "報告する" in (await client.get(report_page)).text
        thanks = await client.post(report_page)
        assert "報告ありがとうございます" in thanks.text

        r = await results()
        assert (r["opened"], r["clicked"], r["reported"], r["submitted"]) == (1, 1, 1, 0)
        assert r["automated_requests"] == 2
        by_dept = {d["department"]: d for d in r["departments"]}
        assert by_dept["製造部"]["clicked"] == 1  # staff001 is in 製造部
        assert by_dept["営業部"]["reported"] == 1  # staff003 is in 営業部
        assert sum(d["sent"] for d in r["departments"]) == 6
        assert r["by_department"]["製造部"]["clicked"] == 1 and r["by_department"]["総務部"]["failed"] == 1

        # Clicking twice is still one click.
        await client.get(click, headers=browser_ua)
        assert (await results())["clicked"] == 1


async def _settled(results_coro):
    r = await results_coro
    return r if r["sent"] + r["failed"] == 7 else None


async def test_password_lure_records_only_that_something_was_submitted(training_env, start_service, auth_headers, nats_url, kit):
    box = training_env
    await kit.register_company(nats_url, "chubu", "ena-foods")
    svc = await start_service("training")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, op, "ena-foods")
        body = {"company_id": "ena-foods", "name": "パスワード訓練", "template_id": "password-expiry",
                "recipients": kit.people(2), "schedule": {"mode": "immediate"}, "charset": "iso-2022-jp"}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=op)).json()["id"]
        await kit.wait_until(lambda: len(box.messages) == 2, what="two mails")
        mail = box.to("staff000@example.co.jp")[0]
        plain = mail.get_body(("plain",))
        assert plain["Content-Type"].params["charset"] == "iso-2022-jp"
        assert "パスワードを更新" in plain.get_content()
        assert mail["Subject"] == "【重要】パスワードの有効期限が近づいています"

        ua = {"User-Agent": "Mozilla/5.0 Firefox/128.0"}
        landing = await client.get(kit.link_in(mail), headers=ua, follow_redirects=True)
        assert "パスワードの更新" in landing.text and 'name="' not in landing.text.split("<form", 1)[1]
        token = kit.link_in(mail).split("/")[2]
        after = await client.post(f"/t/{token}/submit", data={"password": "hunter2"}, headers=ua, follow_redirects=True)
        assert "入力された内容は送信も保存もされていません" in after.text

        r = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=op)).json()
        assert (r["clicked"], r["submitted"]) == (1, 1)
        # The typed value is nowhere: not in the read model, not in the stream.
        dump = str(await svc.runtime.pool.fetch("SELECT * FROM recipients"))
        assert "hunter2" not in dump
        async for rec in svc.runtime.store.read("TRAINING"):
            assert "hunter2" not in str(rec.envelope)


async def test_service_is_ready_and_documents_its_api(training_env, start_service, kit):
    svc = await start_service("training")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        async def ready():
            r = await client.get("/readyz")
            return r.json() if r.status_code == 200 else None

        report = await kit.wait_until(ready, what="readiness")
        assert report["projections"]["training.results"]["lag"] == 0
        schema = (await client.get("/schema/openapi.json")).json()
        assert {"/api/v1/templates", "/api/v1/campaigns", "/api/v1/campaigns/{campaign_id}/results"} <= set(schema["paths"])
        assert "CampaignIn" in str(schema["components"])
        assert not any(path.startswith("/t/") for path in schema["paths"]), "tracking pages stay out of the API docs"
        # Tracking pages are public but reveal nothing for an unknown token.
        missing = await client.get("/t/rdeadbeefdeadbeefdeadbeefdeadbee/c")
        assert missing.status_code == 404 and "このリンクは無効です" in missing.text
