"""Link-code lockouts: operators see them, lift them early (an event with the operator as actor),
only for their own partner; and the console shows them next to the applications' details."""
from datetime import timedelta

from helpdesk_console_kit import operator_with_password, sign_in
from helpdesk_testkit import line_event, link_code, post_line

from otasuke.events import AggregateRef, Tenant, utcnow

USER = "U" + "d4" * 16
CONV = f"line-{USER}"
WRONG_CODES = 5  # HELPDESK_LINK_ATTEMPTS default


async def lock_out(helpdesk, line_platform) -> None:
    for i in range(WRONG_CODES):
        assert (await post_line(helpdesk.client, line_event(USER, text=f"1234567{i}"))).status_code == 200
    assert line_platform.delivered(USER)[-1]["body"]["messages"][0]["text"].startswith("連携コードの入力に何度も失敗")


async def test_operators_see_and_lift_their_own_partners_lockouts_only(helpdesk, line_platform, auth_headers):
    c = helpdesk.client
    chubu, kansai = auth_headers("operator", partner_id="chubu"), auth_headers("operator", partner_id="kansai")
    await lock_out(helpdesk, line_platform)

    [lock] = (await c.get("/api/v1/link-locks", headers=chubu)).json()
    assert (lock["conversation_id"], lock["channel"], lock["user_id"]) == (CONV, "line", USER)
    assert lock["failures"] == WRONG_CODES and lock["locked"] is True
    # Another partner's operator neither sees nor lifts it; a company admin has no say.
    assert (await c.get("/api/v1/link-locks", headers=kansai)).json() == []
    assert (await c.post(f"/api/v1/link-locks/{CONV}/lift", headers=kansai, json={})).status_code == 404
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    assert (await c.get("/api/v1/link-locks", headers=admin)).status_code == 403

    # While locked, even the right code is refused.
    code = await link_code(c, admin, "gifu-seiki")
    await post_line(c, line_event(USER, text=code))
    assert "しばらく受け付けを停止" in line_platform.delivered(USER)[-1]["body"]["messages"][0]["text"]

    lifted = await c.post(f"/api/v1/link-locks/{CONV}/lift", headers=chubu, json={"reason": "電話で本人確認済み"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["locked"] is False and lifted.json()["lift_reason"] == "電話で本人確認済み"
    assert (await c.get("/api/v1/link-locks", headers=chubu)).json() == []
    past = (await c.get("/api/v1/link-locks?include_past=true", headers=chubu)).json()
    assert [p["lifted_by"] for p in past] == [lifted.json()["lifted_by"]]
    events, _ = await helpdesk.runtime.store.load(AggregateRef("helpdesk", Tenant("chubu"), "link_guard", CONV))
    assert events[-1].envelope.type == "helpdesk.link_lock_lifted"
    assert events[-1].envelope.actor == lifted.json()["lifted_by"] and events[-1].envelope.actor

    # The user can link at once.
    await post_line(c, line_event(USER, text=code))
    assert "様として登録しました" in line_platform.delivered(USER)[-1]["body"]["messages"][0]["text"]


async def test_the_console_shows_application_details_and_lifts_a_lockout(helpdesk, line_platform, browser, auth_headers):
    c = helpdesk.client
    day = (utcnow() + timedelta(days=10)).date()
    applied = await c.post("/api/v1/applications", headers=auth_headers("operator", partner_id="chubu"), json={
        "company_id": "gifu-seiki", "service": "utm", "channel": "phone", "contact_name": "総務 山田",
        "contact_phone": "0581234567", "preferred_dates": [{"day": day.isoformat(), "slot": "pm"}]})
    assert applied.status_code == 201, applied.text
    bad = await c.post("/api/v1/applications", headers=auth_headers("operator", partner_id="chubu"), json={
        "company_id": "gifu-seiki", "service": "utm", "preferred_dates": [{"day": "6月10日", "slot": "pm"}]})
    assert bad.status_code == 400 and "preferred_dates" in bad.text
    await lock_out(helpdesk, line_platform)

    suzuki = await operator_with_password(helpdesk, auth_headers, "chubu", "suzuki-locks@chubu.example", "鈴木")
    console = await browser.new_page()
    await sign_in(console, helpdesk.url, suzuki.email, suzuki.password)
    application = await console.wait_for_selector(".application")
    assert await (await application.query_selector(".phone")).inner_text() == "0581234567"
    assert f"{day.month}月{day.day}日" in await application.inner_text() and "午後" in await application.inner_text()
    lock = await console.wait_for_selector(".lock")
    assert "連携コードを5回続けて間違えたため" in await lock.inner_text()
    await (await lock.query_selector(".lift")).click()
    await console.wait_for_selector("#locks >> text=停止中のお客様はいません。")
    assert (await c.get("/api/v1/link-locks", headers=auth_headers("operator", partner_id="chubu"))).json() == []
