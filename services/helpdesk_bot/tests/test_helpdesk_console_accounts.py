"""The console's account screen in a real browser: a partner administrator adds, resets and disables its
operators; other operators cannot use it; another partner's accounts are out of sight and out of reach."""
from helpdesk_console_kit import (
    PASSWORD,
    fragment_token,
    http_sign_in,
    operator_events,
    operator_with_password,
    sign_in,
)

ADMINS_ONLY = "この画面は管理者だけが使えます。"


async def _rows(page) -> dict[str, dict[str, str]]:
    """The accounts table as the administrator reads it, by e-mail address."""
    return await page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("tr.account")].map(r => [
        r.dataset.email, Object.fromEntries(["name", "email", "admin", "status", "last", "actions"].map(
            c => [c, r.querySelector("." + c).innerText.trim()]))]))""")


async def test_an_admin_adds_an_operator_resets_and_disables_it_from_the_console(helpdesk, browser, auth_headers):
    admin = await operator_with_password(helpdesk, auth_headers, "chubu", "kanri@chubu.example", "管理 花子", admin=True)
    await operator_with_password(helpdesk, auth_headers, "kansai", "kimura@kansai.example", "木村")
    page = await browser.new_page()
    page.on("dialog", lambda d: d.accept())  # the confirmations of reset and disable
    await sign_in(page, helpdesk.url, admin.email, admin.password)
    await page.click("#accounts-link")
    await page.wait_for_url("**/console/accounts")
    assert await page.title() == "アカウント管理｜お助け隊 オペレーター画面"
    rows = await _rows(page)
    assert list(rows) == [admin.email]  # the other partner's operator is not listed
    assert rows[admin.email]["admin"] == "管理者" and rows[admin.email]["status"] == "利用中"
    assert rows[admin.email]["last"].startswith("20") and rows[admin.email]["actions"] == "（ご本人）"

    # Add an operator: the one-time link is shown once, to hand over.
    await page.fill("#display_name", "山本 次郎")
    await page.fill("#email", "Yamamoto@Chubu.example")
    await page.click("#add-submit")
    await page.wait_for_selector("#accounts-notice >> text=山本 次郎さんのアカウントを作成しました")
    link = await page.input_value("#new-link")
    assert link.startswith(helpdesk.url + "/console/set-password#token=")
    rows = await _rows(page)
    new = rows["yamamoto@chubu.example"]
    assert (new["name"], new["admin"], new["status"], new["last"]) == ("山本 次郎", "", "パスワード未設定", "なし")
    await page.reload()
    await page.wait_for_selector("#accounts")
    assert await page.query_selector("#new-link") is None  # gone for good: not resent, not kept

    # The operator opens the link, chooses a password and signs in.
    operator = await (await browser.new_context()).new_page()
    await operator.goto(link)
    await operator.fill("#password", PASSWORD)
    await operator.fill("#password_confirm", PASSWORD)
    await operator.click("button[type=submit]")
    await operator.wait_for_selector("#done >> text=パスワードを設定しました")
    await sign_in(operator, helpdesk.url, "yamamoto@chubu.example", PASSWORD)
    await operator.wait_for_selector("#tickets")
    await page.reload()
    rows = await _rows(page)
    assert rows["yamamoto@chubu.example"]["status"] == "利用中" and rows["yamamoto@chubu.example"]["last"] != "なし"

    # Reset: a new link, and the operator's open console is signed out at once.
    row = page.locator("tr.account[data-email='yamamoto@chubu.example']")
    account_id = await row.get_attribute("data-id")
    await row.locator("form.reset button").click()
    await page.wait_for_selector("#accounts-notice >> text=山本 次郎さんのパスワード再設定用のリンクを発行しました")
    reset_link = await page.input_value("#new-link")
    assert reset_link != link and fragment_token(reset_link)
    await operator.goto(helpdesk.url + "/console")
    await operator.wait_for_url("**/console/login?ended=1")

    # Disable, with a reason.
    row = page.locator("tr.account[data-email='yamamoto@chubu.example']")
    await row.locator("input[name=reason]").fill("退職のため")
    await row.locator("form.disable button").click()
    await page.wait_for_selector("#accounts-notice >> text=山本 次郎さんのアカウントを停止しました")
    assert (await _rows(page))["yamamoto@chubu.example"]["status"] == "停止中"
    refused = await helpdesk.client.post("/console/login", data={"email": "yamamoto@chubu.example", "password": PASSWORD})
    assert refused.status_code == 401

    # Every action is recorded with the administrator as its actor.
    by_admin = f"operator:{admin.account_id}"
    events = await operator_events(helpdesk, "chubu", account_id)
    kinds = [(e.type.removeprefix("helpdesk.operator_"), e.actor) for e in events]
    assert kinds == [("account_created", by_admin), ("password_link_issued", by_admin),
                     ("password_set", f"operator:{account_id}"), ("signed_in", f"operator:{account_id}"),
                     ("password_link_issued", by_admin), ("signed_out", by_admin),
                     ("account_disabled", by_admin)]
    assert events[0].data.by == by_admin and events[0].data.is_admin is False
    assert events[5].data.reason == "password_reset"
    assert events[-1].data.reason == "退職のため" and events[-1].data.by == by_admin


async def test_the_account_screen_refuses_mistakes_and_its_own_administrator(helpdesk, auth_headers):
    admin = await operator_with_password(helpdesk, auth_headers, "chubu", "kanri@chubu.example", "管理 花子", admin=True)
    await operator_with_password(helpdesk, auth_headers, "chubu", "ueda@chubu.example", "上田")
    await operator_with_password(helpdesk, auth_headers, "kansai", "kimura@kansai.example", "木村")
    c = await http_sign_in(helpdesk, admin.email)

    bad = await c.post("/console/accounts", data={"display_name": "新人", "email": "not-an-address"})
    assert bad.status_code == 400 and "メールアドレスの形式が正しくありません。" in bad.text
    assert 'value="新人"' in bad.text  # what was typed stays in the form
    nameless = await c.post("/console/accounts", data={"display_name": " ", "email": "new@chubu.example"})
    assert nameless.status_code == 400 and "名前を入力してください。" in nameless.text
    twice = await c.post("/console/accounts", data={"display_name": "上田", "email": "ueda@chubu.example"})
    assert twice.status_code == 409 and "すでにあります" in twice.text and "set-password#token=" not in twice.text
    # An address of another partner: refused without saying that it exists there.
    elsewhere = await c.post("/console/accounts", data={"display_name": "木村", "email": "kimura@kansai.example"})
    assert elsewhere.status_code == 400 and "このメールアドレスは登録できません。" in elsewhere.text
    assert "kansai" not in elsewhere.text.replace("kimura@kansai.example", "")

    # Its own account: neither disabled nor reset from here (the administrator would lock itself out).
    me = await c.post(f"/console/accounts/{admin.account_id}/disable", data={"reason": "テスト"})
    assert me.status_code == 400 and "ご自身のアカウントはこの画面では変更できません。" in me.text
    assert not (await helpdesk.runtime.pool.fetchval("SELECT disabled FROM operator_accounts WHERE account_id=$1",
                                                     admin.account_id))
    ueda_id = (await helpdesk.runtime.pool.fetchval("SELECT account_id FROM operator_accounts WHERE email=$1",
                                                    "ueda@chubu.example"))
    no_reason = await c.post(f"/console/accounts/{ueda_id}/disable", data={"reason": ""})
    assert no_reason.status_code == 400 and "停止の理由を入力してください。" in no_reason.text
    assert (await c.get("/console/accounts")).headers["cache-control"] == "no-store"
    await c.aclose()


async def test_an_operator_who_is_not_an_admin_gets_no_account_screen(helpdesk, browser, auth_headers):
    op = await operator_with_password(helpdesk, auth_headers, "chubu", "suzuki@chubu.example", "鈴木")
    other = await operator_with_password(helpdesk, auth_headers, "chubu", "ito@chubu.example", "伊藤")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, op.email, op.password)
    await page.wait_for_selector("#tickets")
    assert await page.query_selector("#accounts-link") is None
    resp = await page.goto(helpdesk.url + "/console/accounts")
    assert resp.status == 403 and await page.inner_text("#message") == ADMINS_ONLY
    assert await page.query_selector("#accounts") is None

    c = await http_sign_in(helpdesk, op.email)
    added = await c.post("/console/accounts", data={"display_name": "勝手", "email": "katte@chubu.example"})
    assert added.status_code == 403 and "set-password" not in added.text
    assert await helpdesk.runtime.pool.fetchval("SELECT count(*) FROM operator_accounts WHERE email=$1",
                                                "katte@chubu.example") == 0
    assert (await c.post(f"/console/accounts/{other.account_id}/disable", data={"reason": "x"})).status_code == 403
    assert (await c.post(f"/console/accounts/{other.account_id}/reset")).status_code == 403
    assert [e.type for e in await operator_events(helpdesk, "chubu", other.account_id)][-1] == "helpdesk.operator_password_set"
    await c.aclose()
    # Not signed in at all: the login page.
    anonymous = await helpdesk.client.get("/console/accounts")
    assert anonymous.status_code in (302, 303, 307) and anonymous.headers["location"].startswith("/console/login")


async def test_an_admin_of_one_partner_never_sees_or_touches_another_partners_accounts(helpdesk, browser, auth_headers):
    chubu_admin = await operator_with_password(helpdesk, auth_headers, "chubu", "kanri@chubu.example", "中部 管理", admin=True)
    kansai_admin = await operator_with_password(helpdesk, auth_headers, "kansai", "kanri@kansai.example", "関西 管理",
                                                admin=True)
    kansai_op = await operator_with_password(helpdesk, auth_headers, "kansai", "kimura@kansai.example", "木村")
    # The Kansai operator is at work.
    kansai_page = await browser.new_page()
    await sign_in(kansai_page, helpdesk.url, kansai_op.email, kansai_op.password)
    await kansai_page.wait_for_selector("#tickets")

    page = await (await browser.new_context()).new_page()
    await sign_in(page, helpdesk.url, chubu_admin.email, chubu_admin.password)
    await page.click("#accounts-link")
    await page.wait_for_selector("#accounts")
    listed = await page.inner_text("#accounts")
    assert "kansai" not in listed and "木村" not in listed and "関西 管理" not in listed

    # Asked directly, with the Chubu administrator's own session: not found, and nothing happens.
    c = await http_sign_in(helpdesk, chubu_admin.email)
    for path, data in ((f"/console/accounts/{kansai_op.account_id}/disable", {"reason": "いたずら"}),
                       (f"/console/accounts/{kansai_op.account_id}/reset", None),
                       (f"/console/accounts/{kansai_admin.account_id}/disable", {"reason": "いたずら"})):
        resp = await c.post(path, data=data)
        assert resp.status_code == 404 and "アカウントが見つかりません。" in resp.text
        assert "木村" not in resp.text and "set-password#token=" not in resp.text
    await c.aclose()
    for account_id in (kansai_op.account_id, kansai_admin.account_id):
        events = await operator_events(helpdesk, "kansai", account_id)
        assert [e.type for e in events][-1] in ("helpdesk.operator_password_set", "helpdesk.operator_signed_in")
    # The Kansai operator's session is untouched.
    await kansai_page.goto(helpdesk.url + "/console")
    await kansai_page.wait_for_selector("#tickets")
    assert await kansai_page.inner_text("#who") == "木村"
