"""Resumable sending, pause/resume/cancel and tenant isolation, against a real SMTP server."""
from __future__ import annotations

import asyncio
from collections import Counter

import httpx


async def test_a_restart_mid_campaign_neither_resends_nor_skips(training_env, restartable, auth_headers, nats_url, kit):
    box = training_env
    box.accept = 7  # the relay takes seven mails, then answers "try again later"
    await kit.register_company(nats_url, "chubu", "toyota-kogyo")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="toyota-kogyo")
    first = await restartable()
    async with httpx.AsyncClient(base_url=first.url) as client:
        await kit.wait_company(client, admin, "toyota-kogyo")
        body = {"company_id": "toyota-kogyo", "name": "再起動テスト", "template_id": "invoice",
                "recipients": kit.people(20), "schedule": {"mode": "immediate"}}
        created = await client.post("/api/v1/campaigns", json=body, headers=admin)
        cid = created.json()["id"]
        await kit.wait_until(lambda: box.refused > 0, what="the relay to push back")

        async def sent():
            return (await client.get(f"/api/v1/campaigns/{cid}/results", headers=admin)).json()["sent"]

        assert await kit.wait_until(lambda: _equals(sent(), 7), what="seven recorded") == 7
    await first.stop()
    assert len(box.messages) == 7

    box.accept = None  # the relay recovers; a new process takes over
    second = await restartable()
    async with httpx.AsyncClient(base_url=second.url) as client:
        await kit.wait_until(lambda: len(box.messages) >= 20, what="all mails")
        results = await kit.wait_until(
            lambda: _results_when(client, cid, admin, lambda r: r["sent"] == 20), what="twenty recorded"
        )
    per_address = Counter(str(m["To"]).split("<")[-1].rstrip(">") for m in box.messages)
    assert len(per_address) == 20, "nobody skipped"
    assert set(per_address.values()) == {1}, "nobody got the mail twice"
    assert results["sent"] == 20 and results["failed"] == 0
    assert len({m["Message-ID"] for m in box.messages}) == 20


async def _equals(coro, value):
    got = await coro
    return got if got == value else None


async def _results_when(client, cid, headers, predicate):
    r = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=headers)).json()
    return r if predicate(r) else None


async def test_paused_campaigns_send_nothing_until_resumed_and_cancelled_ones_never(
    training_env, start_service, auth_headers, nats_url, kit
):
    box = training_env
    await kit.register_company(nats_url, "chubu", "seto-tougei")
    svc = await start_service("training")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, op, "seto-tougei")
        # Planned in a window that has not started yet, so nothing is due.
        body = {"company_id": "seto-tougei", "name": "来年の訓練", "template_id": "shared-document",
                "recipients": kit.people(5),
                "schedule": {"mode": "spread", "start": "2030-06-03T00:00:00+09:00", "end": "2030-06-08T00:00:00+09:00"}}
        created = (await client.post("/api/v1/campaigns", json=body, headers=op)).json()
        cid = created["id"]
        assert created["status"] == "active" and created["mode"] == "spread"
        page = (await client.get(f"/api/v1/campaigns/{cid}/recipients?limit=2", headers=op)).json()
        assert len(page["items"]) == 2 and page["next_after"]
        rest = (await client.get(f"/api/v1/campaigns/{cid}/recipients", params={"after": page["next_after"]},
                                 headers=op)).json()
        assert len(rest["items"]) == 3 and rest["next_after"] is None
        assert all(item["send_at"].startswith("2030-06-0") for item in page["items"] + rest["items"])

        assert (await client.post(f"/api/v1/campaigns/{cid}/pause", headers=op)).json()["status"] == "paused"
        # Make every mail due now, while paused: the sender must hold them.
        await svc.runtime.pool.execute("UPDATE recipients SET send_at = now() - interval '1 minute' WHERE campaign_id=$1", cid)
        await asyncio.sleep(1.0)
        assert box.messages == []
        assert (await client.post(f"/api/v1/campaigns/{cid}/resume", headers=op)).json()["status"] == "active"
        await kit.wait_until(lambda: len(box.messages) == 5, what="mails after resume")

        body2 = dict(body, name="中止する訓練")
        cid2 = (await client.post("/api/v1/campaigns", json=body2, headers=op)).json()["id"]
        cancelled = await client.post(f"/api/v1/campaigns/{cid2}/cancel", headers=op)
        assert cancelled.json()["status"] == "cancelled"
        await svc.runtime.pool.execute("UPDATE recipients SET send_at = now() WHERE campaign_id=$1", cid2)
        assert (await client.post(f"/api/v1/campaigns/{cid2}/resume", headers=op)).status_code == 422
        await asyncio.sleep(1.0)
        assert len(box.messages) == 5

        # Retrying a creation with the same id adds nothing.
        again = dict(body, campaign_id="fixed-id-1")
        assert (await client.post("/api/v1/campaigns", json=again, headers=op)).status_code == 201
        assert (await client.post("/api/v1/campaigns", json=again, headers=op)).status_code == 201
        count = await svc.runtime.pool.fetchval("SELECT count(*) FROM recipients WHERE campaign_id='fixed-id-1'")
        assert count == 5


async def test_bad_input_is_refused_clearly(training_env, start_service, auth_headers, nats_url, kit):
    await kit.register_company(nats_url, "chubu", "seto-tougei")
    svc = await start_service("training")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, op, "seto-tougei")
        base = {"company_id": "seto-tougei", "name": "x", "template_id": "invoice", "recipients": kit.people(1)}
        bad_mail = await client.post("/api/v1/campaigns", json=dict(base, recipients=[{"email": "nope"}]), headers=op)
        assert bad_mail.status_code == 400 and "not an email address" in bad_mail.text
        unknown = await client.post("/api/v1/campaigns", json=dict(base, template_id="lottery"), headers=op)
        assert unknown.status_code == 422 and "unknown template_id" in unknown.text
        weekend = dict(base, schedule={"start": "2030-06-08T00:00:00+09:00", "end": "2030-06-09T23:00:00+09:00"})
        refused = await client.post("/api/v1/campaigns", json=weekend, headers=op)
        assert refused.status_code == 422 and "business hours" in refused.text
        assert (await client.get("/api/v1/campaigns", headers=op)).json() == []


async def test_companies_and_partners_never_see_each_others_training(
    training_env, start_service, auth_headers, nats_url, kit
):
    box = training_env
    await kit.register_company(nats_url, "chubu", "gifu-seiki")
    await kit.register_company(nats_url, "chubu", "ena-foods")
    await kit.register_company(nats_url, "kansai", "osaka-print")
    svc = await start_service("training")
    gifu = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    ena = auth_headers("company_admin", partner_id="chubu", company_id="ena-foods")
    chubu_op = auth_headers("operator", partner_id="chubu")
    kansai_op = auth_headers("operator", partner_id="kansai")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, chubu_op, "gifu-seiki")
        await kit.wait_company(client, kansai_op, "osaka-print")
        body = {"company_id": "gifu-seiki", "name": "岐阜の訓練", "template_id": "invoice",
                "recipients": kit.people(2), "schedule": {"mode": "immediate"}}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=gifu)).json()["id"]
        assert (await client.get("/api/v1/templates")).status_code == 401
        # Another company of the same partner, and another partner's operator, see nothing.
        for outsider in (ena, kansai_op):
            assert (await client.get(f"/api/v1/campaigns/{cid}/results", headers=outsider)).status_code == 404
            assert (await client.get(f"/api/v1/campaigns/{cid}/recipients", headers=outsider)).status_code == 404
            assert (await client.post(f"/api/v1/campaigns/{cid}/pause", headers=outsider)).status_code == 404
            assert (await client.get("/api/v1/companies/gifu-seiki/training/report", headers=outsider)).status_code == 404
        assert (await client.get("/api/v1/campaigns", headers=ena)).json() == []
        assert (await client.get("/api/v1/campaigns", headers=kansai_op)).json() == []
        # …nor can they start campaigns for it.
        hijack = await client.post("/api/v1/campaigns", json=body, headers=kansai_op)
        assert hijack.status_code == 404
        assert (await client.post("/api/v1/campaigns", json=body, headers=ena)).status_code == 404
        # The owner and its partner's operator do see it.
        assert (await client.get(f"/api/v1/campaigns/{cid}/results", headers=chubu_op)).status_code == 200
        assert [c["id"] for c in (await client.get("/api/v1/campaigns", headers=gifu)).json()] == [cid]
        # Partner measures are for the partner's staff only, and only over its own companies.
        assert (await client.get("/api/v1/partner/training/measures", headers=gifu)).status_code == 403
        kansai = (await client.get("/api/v1/partner/training/measures", headers=kansai_op)).json()
        assert kansai["companies"] == 0
        await kit.wait_until(lambda: len(box.messages) == 2, what="mails")
        chubu = await kit.wait_until(
            lambda: _measures_when(client, chubu_op), what="chubu measures"
        )
        assert chubu["table5"][0]["sent"] == 2


async def _measures_when(client, headers):
    r = (await client.get("/api/v1/partner/training/measures", headers=headers)).json()
    return r if r["companies"] == 1 and r["table5"][0]["sent"] == 2 else None


async def test_forwarding_the_mail_to_the_report_address_counts_as_reported(
    training_env, start_service, auth_headers, nats_url, kit, monkeypatch
):
    import aiosmtplib
    from email.message import EmailMessage

    from otasuke.platform.embedded import free_port

    box = training_env
    report_port = free_port()
    monkeypatch.setenv("OTASUKE_TRAINING_REPORT_SMTP_PORT", str(report_port))
    await kit.register_company(nats_url, "chubu", "gifu-seiki")
    svc = await start_service("training")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, admin, "gifu-seiki")
        body = {"company_id": "gifu-seiki", "name": "報告訓練", "template_id": "delivery-notice",
                "recipients": kit.people(3), "schedule": {"mode": "immediate"}}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=admin)).json()["id"]
        await kit.wait_until(lambda: len(box.messages) == 3, what="mails")
        original = box.to("staff002@example.co.jp")[0]

        # The recipient forwards it as an attachment, the way mail clients do.
        forward = EmailMessage()
        forward["From"] = "staff002@example.co.jp"
        forward["To"] = "report@training.otasuke.example"
        forward["Subject"] = "転送: あやしいメールです"
        forward.set_content("このメールはあやしいと思います。確認をお願いします。")
        forward.add_attachment(original)
        await aiosmtplib.send(forward, hostname="127.0.0.1", port=report_port)
        # Unrelated mail to the same address is accepted and changes nothing.
        other = EmailMessage()
        other["From"], other["To"], other["Subject"] = "x@example.jp", "report@training.otasuke.example", "spam"
        other.set_content("http://evil.example/login")
        await aiosmtplib.send(other, hostname="127.0.0.1", port=report_port)

        r = await kit.wait_until(lambda: _results_when(client, cid, admin, lambda r: r["reported"] == 1),
                                 what="the report")
        assert r["clicked"] == 0
        channel = await svc.runtime.pool.fetchval("SELECT report_channel FROM recipients WHERE email='staff002@example.co.jp'")
        assert channel == "mailbox"


async def test_pre_learning_invitations_go_out_once_and_lead_to_the_pre_learning_page(
    training_env, start_service, auth_headers, nats_url, kit
):
    from otasuke.training.adapters.report_mailbox import tokens_in

    box = training_env
    await kit.register_company(nats_url, "chubu", "seto-tougei")
    svc = await start_service("training")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="seto-tougei")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, admin, "seto-tougei")
        body = {"company_id": "seto-tougei", "name": "3ステップ訓練", "template_id": "invoice",
                "recipients": kit.people(4),
                "schedule": {"start": "2030-06-03T00:00:00+09:00", "end": "2030-06-08T00:00:00+09:00"}}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=admin)).json()["id"]
        for _ in range(2):  # asking twice invites once
            r = await client.post(f"/api/v1/campaigns/{cid}/learning-invitations", json={"stage": "pre"}, headers=admin)
            assert r.status_code == 202, r.text
        bad = await client.post(f"/api/v1/campaigns/{cid}/learning-invitations", json={"stage": "during"}, headers=admin)
        assert bad.status_code == 400
        await kit.wait_until(lambda: len(box.messages) == 4, what="invitations")
        await asyncio.sleep(0.5)
        assert len(box.messages) == 4
        invitation = box.to("staff003@example.co.jp")[0]
        assert invitation["X-Otasuke-Learning"] == "pre" and invitation["X-Otasuke-Training"] == "1"
        assert invitation["Subject"].startswith("【研修】")
        text = invitation.get_body(("plain",)).get_content()
        assert "事前学習のお願い" in text
        link = text.split("http://training.test", 1)[1].split()[0]
        assert link.endswith("/learn?stage=pre")
        page = await client.get(link, headers={"User-Agent": "Mozilla/5.0 Chrome/126.0"})
        assert "事前学習：あやしいメールの見分け方" in page.text
        # Forwarding the invitation to the report address is not a report of the lure.
        assert tokens_in(invitation.as_bytes()) == set()
        # Nothing about the lure has gone out yet.
        results = (await client.get(f"/api/v1/campaigns/{cid}/results", headers=admin)).json()
        assert results["sent"] == 0


async def test_a_mail_in_flight_at_a_crash_is_sent_again_with_the_same_message_id(
    training_env, start_service, auth_headers, nats_url, kit
):
    from otasuke.events import EventStore, Tenant
    from otasuke.events.schemas.training import DispatchStarted
    from otasuke.training.application.campaigns import ref

    box = training_env
    await kit.register_company(nats_url, "chubu", "gifu-seiki")
    svc = await start_service("training")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        await kit.wait_company(client, admin, "gifu-seiki")
        body = {"company_id": "gifu-seiki", "name": "クラッシュ", "template_id": "invoice", "recipients": kit.people(3),
                "schedule": {"start": "2030-06-03T00:00:00+09:00", "end": "2030-06-08T00:00:00+09:00"}}
        cid = (await client.post("/api/v1/campaigns", json=body, headers=admin)).json()["id"]
        items = (await client.get(f"/api/v1/campaigns/{cid}/recipients", headers=admin)).json()["items"]
        in_flight = next(i for i in items if i["email"] == "staff001@example.co.jp")["recipient_id"]
        # What a sender that died after the relay's 250 but before recording it leaves behind: only the intent.
        store: EventStore = svc.runtime.store
        [rec] = await store.append(ref(Tenant("chubu", "gifu-seiki"), "dispatch", cid),
                                   [DispatchStarted(campaign_id=cid, recipient_ids=[in_flight])], expected_seq=None)
        await svc.runtime.wait_for("training.results", rec.seq)
        await svc.runtime.pool.execute("UPDATE recipients SET send_at = now() WHERE campaign_id=$1", cid)
        await kit.wait_until(lambda: len(box.messages) == 3, what="mails")
        page = await kit.wait_until(lambda: _all_sent(client, cid, admin), what="sends recorded")
    flags = {i["email"]: i["resent_after_restart"] for i in page["items"]}
    assert flags == {"staff000@example.co.jp": False, "staff001@example.co.jp": True, "staff002@example.co.jp": False}
    assert box.to("staff001@example.co.jp")[0]["Message-ID"] == f"<{in_flight}@training.otasuke.example>"


async def _all_sent(client, cid, headers):
    page = (await client.get(f"/api/v1/campaigns/{cid}/recipients", headers=headers)).json()
    return page if all(i["status"] == "sent" for i in page["items"]) else None
