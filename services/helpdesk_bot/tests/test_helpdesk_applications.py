"""Applications: statuses through to activation, the answer to 「工事はいつ？」, tenant isolation."""
from otasuke.events import AggregateRef, Tenant


async def test_an_application_goes_from_provisional_to_active_and_emits_the_activation(helpdesk, auth_headers):
    c = helpdesk.client
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    op = auth_headers("operator", partner_id="chubu")
    bad = await c.post("/api/v1/applications", headers=admin, json={"service": "firewall"})
    assert bad.status_code == 400
    app = await c.post("/api/v1/applications", headers=admin, json={"service": "utm", "devices": 12, "command_id": "form-1"})
    assert app.status_code == 201, app.text
    again = await c.post("/api/v1/applications", headers=admin, json={"service": "utm", "devices": 12, "command_id": "form-1"})
    assert again.json()["application_id"] == app.json()["application_id"]  # a double-submitted form is one application
    app_id = app.json()["application_id"]
    assert app.json()["status"] == "provisional"

    # The company admin cannot move its own application along.
    assert (await c.post(f"/api/v1/applications/{app_id}/status", headers=admin, json={"status": "confirmed"})).status_code == 403
    for step in ("confirmed", "site_survey"):
        assert (await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": step})).status_code == 200
    sched = await c.post(f"/api/v1/applications/{app_id}/status", headers=op,
                         json={"status": "installation_scheduled", "scheduled_for": "2025-06-03T10:00:00+09:00"})
    assert sched.status_code == 200, sched.text
    contact = await c.post(f"/api/v1/applications/{app_id}/contacts", headers=op,
                           json={"channel": "phone", "summary": "工事日を電話で確認"})
    assert contact.status_code == 201 and contact.json()["contacts"][0]["summary"] == "工事日を電話で確認"

    # 「工事はいつ？」: what the bot's action server reads.
    listed = (await c.get("/api/v1/applications?company_id=gifu-seiki", headers=admin)).json()
    assert listed[0]["summary_ja"] == "UTM（ネットワーク監視機器）の設置工事は6月3日(火) 10:00の予定です。"
    back = await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": "confirmed"})
    assert back.status_code == 422 and "cannot go back" in back.text

    for step in ("installed", "active"):
        assert (await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": step})).status_code == 200
    events, _ = await helpdesk.runtime.store.load(AggregateRef("enrolment", Tenant("chubu", "gifu-seiki"), "application", app_id))
    assert [e.envelope.type for e in events][-1] == "enrolment.service_activated"
    assert events[-1].data.devices == 12
    companies = (await c.get("/api/v1/applications?company_id=gifu-seiki", headers=admin)).json()
    assert companies[0]["status_ja"] == "利用中"
    history = (await c.get(f"/api/v1/applications/{app_id}", headers=admin)).json()["history"]
    assert [h["status"] for h in history] == ["provisional", "confirmed", "site_survey", "installation_scheduled",
                                              "installed", "active"]


async def test_cancellation_needs_a_reason_and_other_tenants_see_nothing(helpdesk, auth_headers):
    c = helpdesk.client
    op = auth_headers("operator", partner_id="chubu")
    app_id = (await c.post("/api/v1/applications", headers=op, json={"service": "edr", "company_id": "ena-foods"})).json()["application_id"]
    no_reason = await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": "cancelled"})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    done = await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": "cancelled", "reason": "予算の都合"})
    assert "取り消されました（理由：予算の都合）" in done.json()["summary_ja"]

    gifu = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    kansai = auth_headers("operator", partner_id="kansai")
    assert (await c.get("/api/v1/applications?company_id=ena-foods", headers=gifu)).status_code == 404
    assert (await c.get(f"/api/v1/applications/{app_id}", headers=gifu)).status_code == 404
    assert (await c.get(f"/api/v1/applications/{app_id}", headers=kansai)).status_code == 404
    assert (await c.get("/api/v1/applications", headers=kansai)).json() == []
    assert (await c.post("/api/v1/applications", headers=kansai, json={"service": "edr", "company_id": "ena-foods"})).status_code == 404
