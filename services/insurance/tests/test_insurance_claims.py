"""A claim started from a ransomware incident carries its evidence, answers 「どこまでカバー」, and moves to settlement."""
from datetime import UTC, datetime

import httpx

from otasuke.events import Tenant, registry
from otasuke.events.schemas.helpdesk import DispatchRequested, TicketClosed, TicketOpened, TicketStatusChanged
from otasuke.events.schemas.telemetry import AlertEscalated, AlertRaised, DeviceRegistered

T0 = datetime(2025, 6, 2, 9, 15, tzinfo=UTC)


async def ransomware_incident(streams, partner, company):
    tenant = Tenant(partner, company)
    await streams.emit("telemetry", tenant, "device", "edr-pc01", DeviceRegistered(device_id="edr-pc01", kind="edr", hostname="PC01"))
    await streams.emit("telemetry", tenant, "alert", "al-1", AlertRaised(
        alert_id="al-1", rule_id="edr-ransom-01", rule_title="Mass file encryption", category="ransomware", severity="critical",
        device_id="edr-pc01", host="PC01", first_seen=T0, last_seen=T0, count=312,
        title_ja="ファイルが次々に暗号化されています", explanation_ja="ランサムウェアの疑いがあります。",
        action_ja="LANケーブルを抜いてください。", evidence=[{"process": "invoice.exe", "files": 312}],
    ))
    await streams.emit("telemetry", tenant, "alert", "al-1", AlertEscalated(alert_id="al-1", reason="critical", ticket_id="tk-9"))
    await streams.emit("helpdesk", tenant, "ticket", "tk-9", TicketOpened(
        ticket_id="tk-9", source="alert", summary="PC01でランサムウェアの警報", alert_id="al-1", incident=True))
    await streams.emit("helpdesk", tenant, "ticket", "tk-9", TicketStatusChanged(ticket_id="tk-9", status="in_progress", by="op-suzuki"))
    await streams.emit("helpdesk", tenant, "ticket", "tk-9", DispatchRequested(ticket_id="tk-9", operator_id="op-suzuki", reason="PC01の隔離と復旧"))


async def test_claim_from_a_ticket_carries_the_alert_and_the_actions_taken(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "gifu-seiki")
    await streams.activate("chubu", "gifu-seiki", "edr", "app-edr")
    await ransomware_incident(streams, "chubu", "gifu-seiki")
    await settled()
    helpdesk = auth_headers("service", partner_id="chubu")
    insurer = auth_headers("insurer", partner_id="chubu")
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        # 「保険でどこまでカバーされますか」 about this very alert.
        cover = (await client.get("/api/v1/coverage", params={"company_id": "gifu-seiki", "alert_id": "al-1"}, headers=helpdesk)).json()
        assert cover["can_claim"] is True
        assert cover["incident_ja"].startswith("ランサムウェア") and "原因調査の費用" in cover["incident_ja"]
        assert "身代金そのものは対象外" in cover["incident_ja"]

        resp = await client.post("/api/v1/claims", json={"company_id": "gifu-seiki", "ticket_id": "tk-9"}, headers=helpdesk)
        assert resp.status_code == 201, resp.text
        claim = resp.json()
        assert claim["status"] == "opened" and claim["status_ja"] == "受付済み"
        assert claim["incident_category"] == "ransomware" and claim["alert_ids"] == ["al-1"]
        assert claim["description"] == "PC01でランサムウェアの警報"
        [policy] = (await client.get("/api/v1/policies", params={"company_id": "gifu-seiki"}, headers=admin)).json()
        assert claim["policy_ids"] == [policy["id"]]
        types = [e["event_type"] for e in claim["evidence"]]
        assert types.count("telemetry.alert_raised") == 1
        assert {"telemetry.alert_escalated", "helpdesk.ticket_opened", "helpdesk.ticket_status_changed",
                "helpdesk.dispatch_requested"} <= set(types)
        raised = next(e for e in claim["evidence"] if e["event_type"] == "telemetry.alert_raised")
        assert raised["data"]["count"] == 312 and "暗号化" in raised["summary_ja"]
        assert [e["at"] for e in claim["evidence"]] == sorted(e["at"] for e in claim["evidence"])

        # Asked again (a retry, or later actions): the same claim, only new evidence added.
        again = (await client.post("/api/v1/claims", json={"company_id": "gifu-seiki", "ticket_id": "tk-9"}, headers=helpdesk)).json()
        assert again["id"] == claim["id"] and len(again["evidence"]) == len(claim["evidence"])
        await streams.emit("helpdesk", Tenant("chubu", "gifu-seiki"), "ticket", "tk-9",
                           TicketClosed(ticket_id="tk-9", resolution="バックアップから復旧", by="op-suzuki"))
        later = (await client.post("/api/v1/claims", json={"company_id": "gifu-seiki", "ticket_id": "tk-9"}, headers=admin)).json()
        assert len(later["evidence"]) == len(claim["evidence"]) + 1
        assert later["evidence"][-1]["summary_ja"] == "対応完了: バックアップから復旧"

        # The insurer takes it to settlement; wrong moves are refused with a reason.
        url = f"/api/v1/claims/{claim['id']}/status"
        assert (await client.post(url, json={"status": "settled", "paid_yen": 1}, headers=insurer)).status_code == 422
        assert (await client.post(url, json={"status": "under_review"}, headers=admin)).status_code == 403
        for status in ("under_review", "approved"):
            r = await client.post(url, json={"status": status, "note": "調査報告書を確認"}, headers=insurer)
            assert r.status_code == 200, r.text
        too_much = await client.post(url, json={"status": "settled", "paid_yen": 5_000_000}, headers=insurer)
        assert too_much.status_code == 422 and "limit" in too_much.json()["detail"]
        done = (await client.post(url, json={"status": "settled", "paid_yen": 820_000}, headers=insurer)).json()
        assert done["status_ja"] == "お支払い完了" and done["paid_yen"] == 820_000
        assert [h["status"] for h in done["history"]] == ["opened", "under_review", "approved", "settled"]
        seen_by_company = (await client.get(f"/api/v1/claims/{claim['id']}", headers=admin)).json()
        assert seen_by_company["status"] == "settled"

        # The insurer's underwriting view shows what bears on the risk.
        risk = (await client.get("/api/v1/underwriting/companies/gifu-seiki", headers=insurer)).json()
        assert [d["hostname"] for d in risk["devices"]] == ["PC01"]
        assert risk["alerts"]["by_category"] == {"ransomware": 1} and risk["incident_tickets"] == 1
        assert risk["services"] == ["edr"] and risk["claims"][0]["paid_yen"] == 820_000
        book = (await client.get("/api/v1/underwriting/book", headers=insurer)).json()
        assert book["bundled_active"] == 1 and book["paid_yen"] == 820_000 and book["claims_open"] == 0


async def test_claim_needs_an_incident_and_cover(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "no-cover")
    await ransomware_incident(streams, "chubu", "no-cover")
    await settled()
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        none = await client.post("/api/v1/claims", json={"company_id": "no-cover"}, headers=op)
        assert none.status_code == 422 and "ticket_id or the alert_id" in none.json()["detail"]
        ghost = await client.post("/api/v1/claims", json={"company_id": "no-cover", "ticket_id": "tk-404"}, headers=op)
        assert ghost.status_code == 422 and "no ticket" in ghost.json()["detail"]
        uncovered = await client.post("/api/v1/claims", json={"company_id": "no-cover", "alert_id": "al-1"}, headers=op)
        assert uncovered.status_code == 422 and "no active policy" in uncovered.json()["detail"]


async def test_training_results_reach_the_underwriting_view(insurance, streams, settled, auth_headers):
    await streams.company("chubu", "ogaki-kogyo")
    await settled("insurance.companies")
    try:
        completed = registry.lookup("training.campaign_completed").payload
    except registry.UnknownEventType:
        completed = None
    if completed is not None:
        payload = completed(campaign_id="cmp-1", name="6月の訓練", template_id="invoice", recipients=40, sent=40,
                            opened=22, clicked=7, submitted=2, reported=9, learning_completed=30)
        await streams.emit("training", Tenant("chubu", "ogaki-kogyo"), "campaign", "cmp-1", payload)
        await settled("insurance.training")
    insurer = auth_headers("insurer", partner_id="chubu")
    async with httpx.AsyncClient(base_url=insurance.url, timeout=60) as client:
        risk = (await client.get("/api/v1/underwriting/companies/ogaki-kogyo", headers=insurer)).json()
    if completed is not None:
        [t] = risk["training"]
        assert t["campaign_id"] == "cmp-1" and t["counts"]["clicked"] == 7 and t["counts"]["reported"] == 9
    else:  # the training context has not published its company-level result event yet
        assert risk["training"] == [] and "訓練の結果はまだありません" in risk["training_note"]
