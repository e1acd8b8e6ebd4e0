"""Operator console sign-in in a real browser: accounts, password link, session cookie and its revocation, lockout, tenancy."""
import asyncio
import hashlib
from datetime import timedelta

from typer.testing import CliRunner

from helpdesk_console_kit import (
    PASSWORD,
    console_cookie,
    cookie_backend,
    fragment_token,
    http_sign_in,
    open_ticket,
    operator_events,
    operator_with_password,
    replay,
    sign_in,
)
from otasuke.events import AggregateRef, Tenant, utcnow
from otasuke.helpdesk_bot.entrypoints.cli import helpdesk as helpdesk_cli

WRONG = "メールアドレスまたはパスワードが正しくありません。"
ENDED = "ログインが無効になりました。もう一度ログインしてください。"


async def test_operator_sets_a_password_signs_in_works_the_queue_and_signs_out(helpdesk, browser, auth_headers):
    # The administrator creates the account; the operator opens the one-time link and chooses a password.
    admin = auth_headers("operator", partner_id="chubu")
    created = await helpdesk.client.post("/api/v1/operator-accounts", headers=admin,
                                         json={"email": "Suzuki@Chubu-Denryoku.example", "display_name": "鈴木 一郎"})
    assert created.status_code == 201, created.text
    link = created.json()["set_password_url"]
    page = await browser.new_page()
    await page.goto(link)
    await page.fill("#password", "short")
    await page.fill("#password_confirm", "short")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#password-error >> text=12文字以上")
    await page.fill("#password", PASSWORD)
    await page.fill("#password_confirm", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#done >> text=パスワードを設定しました")
    # The link is spent.
    again = await helpdesk.client.post("/console/set-password", json={
        "token": fragment_token(link), "password": "another-long-passw0rd", "password_confirm": "another-long-passw0rd"})
    assert again.status_code == 400 and "使用済み" in again.json()["errors"]["token"]

    ticket_id = await open_ticket(helpdesk, "chubu", "gifu-seiki", "ルーターのランプが赤い")

    # Not signed in: the console sends you to the login page.
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login")
    assert "ログイン" in await page.title()
    await page.fill("#email", "suzuki@chubu-denryoku.example")
    await page.fill("#password", "wrong-password-123")
    await page.click("#signin")
    assert await page.inner_text("#login-error") == WRONG
    # An address with no account gets exactly the same answer.
    await page.fill("#email", "nobody@chubu-denryoku.example")
    await page.fill("#password", PASSWORD)
    await page.click("#signin")
    assert await page.inner_text("#login-error") == WRONG

    await page.fill("#email", "suzuki@chubu-denryoku.example")
    await page.fill("#password", PASSWORD)
    await page.click("#signin")
    ticket = await page.wait_for_selector(f".ticket[data-id='{ticket_id}']")
    assert "gifu-seiki 株式会社" in await ticket.inner_text()
    assert await page.inner_text("#who") == "鈴木 一郎"
    cookie = next(c for c in await page.context.cookies() if c["name"].startswith("otasuke_console"))
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert PASSWORD not in cookie["value"] and "suzuki" not in cookie["value"]

    # A human action is recorded with the operator's account as its actor, and the timeline shows the name.
    await ticket.click()
    await page.fill("#dispatch-reason", "ルーターの交換が必要")
    await page.click("#dispatch")
    await page.wait_for_selector("#detail >> text=鈴木 一郎")
    events, _ = await helpdesk.runtime.store.load(
        AggregateRef("helpdesk", Tenant("chubu", "gifu-seiki"), "ticket", ticket_id))
    dispatched = [e for e in events if e.envelope.type == "helpdesk.dispatch_requested"]
    assert dispatched and dispatched[0].envelope.actor == f"operator:{created.json()['account_id']}"

    await page.click("#logout")
    await page.wait_for_selector("#login-notice >> text=ログアウトしました。")
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login*")
    await page.wait_for_selector("form[action='/console/login']")
    assert await page.query_selector("#tickets") is None


async def test_a_forged_or_idle_session_cookie_lands_on_the_login_page(helpdesk, browser, auth_headers):
    op = await operator_with_password(helpdesk, auth_headers, "chubu", "tanaka@chubu.example", "田中")
    page = await browser.new_page()
    host = helpdesk.url.split("//")[1].split(":")[0]
    await page.context.add_cookies([{"name": "otasuke_console", "value": "forged-value", "domain": host, "path": "/console"}])
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login?ended=1")
    assert await page.inner_text("#login-notice") == ENDED
    assert await page.is_hidden("#tickets")

    # A cookie sealed with the deployment's key but naming no session it opened is refused just the same.
    backend = cookie_backend(helpdesk)
    now = utcnow().isoformat()
    made_up = backend.dump_data({"sid": "made-up", "account_id": op.account_id, "partner_id": "chubu",
                                 "signed_in_at": now, "seen_at": now})[0].decode()
    async with replay(helpdesk, made_up) as forger:
        assert (await forger.post("/console/session-token")).status_code == 401

    # A real session whose last activity is 9 hours old: signed out as idle, and recorded so.
    client = await http_sign_in(helpdesk, op.email)
    real = backend.load_data([client.cookies["otasuke_console"].encode()])
    await client.aclose()
    old = (utcnow() - timedelta(hours=9)).isoformat()
    value = backend.dump_data({**real, "seen_at": old})[0].decode()
    await page.context.clear_cookies()
    await page.context.add_cookies([{"name": "otasuke_console", "value": value, "domain": host,
                                     "path": "/console", "httpOnly": True, "sameSite": "Strict"}])
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login?expired=1")
    assert "一定時間操作がなかったため" in await page.inner_text("#login-notice")
    ended = [e for e in await operator_events(helpdesk, "chubu", op.account_id) if e.type == "helpdesk.operator_signed_out"]
    assert [(e.data.reason, e.data.session_hash, e.actor) for e in ended] == [
        ("idle", hashlib.sha256(real["sid"].encode()).hexdigest(), "system")]
    # The session is over for good: the same cookie with fresh activity is still refused.
    fresh = backend.dump_data({**real, "seen_at": utcnow().isoformat()})[0].decode()
    async with replay(helpdesk, fresh) as again:
        assert (await again.post("/console/session-token")).status_code == 401


async def test_a_cookie_captured_before_logout_is_refused_after_it(helpdesk, browser, auth_headers):
    op = await operator_with_password(helpdesk, auth_headers, "chubu", "mori@chubu.example", "森")
    ticket_id = await open_ticket(helpdesk, "chubu", "ena-foods", "プリンターが動かない")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, op.email, op.password)
    await page.wait_for_selector(f".ticket[data-id='{ticket_id}']")
    captured = (await console_cookie(page))["value"]
    # The console's API token, as a script on the page holds it.
    api_token = (await page.evaluate("""async () =>
        (await (await fetch("/console/session-token", {method: "POST"})).json()).token"""))
    copy = replay(helpdesk, captured)
    assert (await copy.post("/console/session-token")).status_code == 200
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=bearer)).status_code == 200

    await page.click("#logout")
    await page.wait_for_selector("#login-notice >> text=ログアウトしました。")

    # Over HTTP: the copy gets no token and no console, and the API token of that session is dead too.
    refused = await copy.post("/console/session-token")
    assert refused.status_code == 401 and refused.json()["login"] == "/console/login?ended=1"
    landing = await copy.get("/console")
    assert landing.status_code in (302, 303, 307) and landing.headers["location"] == "/console/login?ended=1"
    assert (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=bearer)).status_code == 401
    # Logging out again with the copy ends nothing more.
    assert (await copy.post("/console/logout")).status_code == 303
    await copy.aclose()

    # In a browser of its own: the copied cookie lands on the login page, no tickets shown.
    other = await browser.new_context()
    host = helpdesk.url.split("//")[1].split(":")[0]
    await other.add_cookies([{"name": "otasuke_console", "value": captured, "domain": host, "path": "/console",
                              "httpOnly": True, "sameSite": "Strict"}])
    thief = await other.new_page()
    await thief.goto(helpdesk.url + "/console")
    await thief.wait_for_url("**/console/login?ended=1")
    assert await thief.inner_text("#login-notice") == ENDED
    assert await thief.query_selector("#tickets") is None
    await other.close()

    # The auditor's view: one session, opened and closed by the operator, identified by a hash only.
    events = [e for e in await operator_events(helpdesk, "chubu", op.account_id)
              if e.type in ("helpdesk.operator_signed_in", "helpdesk.operator_signed_out")]
    assert [(e.type, e.actor) for e in events] == [("helpdesk.operator_signed_in", f"operator:{op.account_id}"),
                                                   ("helpdesk.operator_signed_out", f"operator:{op.account_id}")]
    signed_in, signed_out = events
    assert signed_in.data.session_hash == signed_out.data.session_hash and signed_out.data.reason == "signed_out"
    assert timedelta(hours=11, minutes=59) < signed_in.data.expires_at - signed_in.occurred_at <= timedelta(hours=12)
    sid = cookie_backend(helpdesk).load_data([captured.encode()])["sid"]
    assert signed_in.data.session_hash == hashlib.sha256(sid.encode()).hexdigest()
    assert all(sid not in str(e.data) and captured not in str(e.data) for e in events)
    assert await helpdesk.runtime.pool.fetchval("SELECT count(*) FROM operator_sessions WHERE account_id=$1",
                                                op.account_id) == 0


async def test_a_password_reset_ends_the_accounts_sessions_and_the_old_password_at_once(helpdesk, browser, auth_headers):
    op = await operator_with_password(helpdesk, auth_headers, "chubu", "abe@chubu.example", "阿部")
    admin = auth_headers("operator", partner_id="chubu")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, op.email, op.password)
    await page.wait_for_selector("#tickets")
    phone = await http_sign_in(helpdesk, op.email)  # the same operator, signed in on a second device
    assert (await phone.post("/console/session-token")).status_code == 200

    reset = await helpdesk.client.post(f"/api/v1/operator-accounts/{op.account_id}/password-link", headers=admin)
    assert reset.status_code == 201
    # Both sessions are over at once, without waiting for any limit.
    assert (await phone.post("/console/session-token")).status_code == 401
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login?ended=1")
    ended = [e.data for e in await operator_events(helpdesk, "chubu", op.account_id)
             if e.type == "helpdesk.operator_signed_out"]
    assert sorted(e.reason for e in ended) == ["password_reset", "password_reset"]

    # A reset assumes the old password leaked: it no longer opens a session, even before the new one is set.
    assert (await helpdesk.client.post("/console/login", data={"email": op.email, "password": PASSWORD})).status_code == 401
    new_password = "atarashii-aikotoba-2024"
    done = await helpdesk.client.post("/console/set-password", json={
        "token": fragment_token(reset.json()["set_password_url"]), "password": new_password,
        "password_confirm": new_password})
    assert done.status_code == 200
    assert (await helpdesk.client.post("/console/login", data={"email": op.email, "password": PASSWORD})).status_code == 401
    fresh = await http_sign_in(helpdesk, op.email, new_password)
    assert (await fresh.post("/console/session-token")).status_code == 200
    for c in (phone, fresh):
        await c.aclose()


async def test_an_operator_of_one_partner_never_sees_another_partners_tickets(helpdesk, browser, auth_headers):
    chubu_ticket = await open_ticket(helpdesk, "chubu", "ena-foods", "中部の会社の相談")
    kansai_ticket = await open_ticket(helpdesk, "kansai", "osaka-print", "関西の会社の相談")
    kansai = await operator_with_password(helpdesk, auth_headers, "kansai", "kimura@kansai.example", "木村")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, kansai.email, kansai.password)
    await page.wait_for_selector(f".ticket[data-id='{kansai_ticket}']")
    assert await page.query_selector(f".ticket[data-id='{chubu_ticket}']") is None
    assert "ena-foods" not in await page.inner_text("#tickets")
    # Even asked directly with its session's token, the other partner's ticket does not exist.
    status = await page.evaluate(f"""async () => {{
        const s = await (await fetch("/console/session-token", {{method: "POST"}})).json();
        return (await fetch("/api/v1/tickets/{chubu_ticket}", {{headers: {{Authorization: "Bearer " + s.token}}}})).status;
    }}""")
    assert status == 404
    # And the account list and management are per partner.
    listed = await helpdesk.client.get("/api/v1/operator-accounts", headers=auth_headers("operator", partner_id="chubu"))
    assert kansai.email not in listed.text
    assert (await helpdesk.client.post(f"/api/v1/operator-accounts/{kansai.account_id}/disable",
                                       headers=auth_headers("operator", partner_id="chubu"),
                                       json={"reason": "x"})).status_code == 404


async def test_repeated_failures_lock_the_address_and_a_disabled_account_is_signed_out(helpdesk, browser, auth_headers):
    op = await operator_with_password(helpdesk, auth_headers, "chubu", "sato@chubu.example", "佐藤")
    c = helpdesk.client
    for _ in range(5):
        r = await c.post("/console/login", data={"email": op.email, "password": "not-the-password"})
        assert r.status_code in (401, 429)
    locked = await c.post("/console/login", data={"email": op.email, "password": PASSWORD})
    assert locked.status_code == 429 and "ログインの失敗が続いたため" in locked.text
    # The lock is kept in PostgreSQL (survives a restart, shared by replicas) and unknown addresses lock alike.
    assert await helpdesk.runtime.pool.fetchval(
        "SELECT locked_until > now() FROM operator_login_attempts WHERE email=$1", op.email)
    for _ in range(5):
        await c.post("/console/login", data={"email": "ghost@chubu.example", "password": "whatever-123"})
    assert "ログインの失敗が続いたため" in (await c.post("/console/login", data={
        "email": "ghost@chubu.example", "password": "whatever-123"})).text

    other = await operator_with_password(helpdesk, auth_headers, "chubu", "ito@chubu.example", "伊藤")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, other.email, other.password)
    await page.wait_for_selector("#tickets")
    api_token = await page.evaluate("""async () =>
        (await (await fetch("/console/session-token", {method: "POST"})).json()).token""")
    disabled = await c.post(f"/api/v1/operator-accounts/{other.account_id}/disable",
                            headers=auth_headers("operator", partner_id="chubu"), json={"reason": "退職"})
    assert disabled.status_code == 200 and disabled.json()["disabled"]
    # Its session ends at once: the page's API token is refused, and the console sends it to the login page.
    assert (await c.get("/api/v1/tickets", headers={"Authorization": f"Bearer {api_token}"})).status_code == 401
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login?ended=1")
    ended = [e for e in await operator_events(helpdesk, "chubu", other.account_id) if e.type == "helpdesk.operator_signed_out"]
    assert [(e.data.reason, e.actor) for e in ended] == [("account_disabled", "test")]
    # And it cannot sign in again.
    assert (await c.post("/console/login", data={"email": other.email, "password": PASSWORD})).status_code == 401


async def test_the_cli_creates_an_account_and_prints_a_working_link(helpdesk, monkeypatch, auth_headers):
    settings = helpdesk.runtime.settings
    monkeypatch.setenv("OTASUKE_SIGNING_KEY", settings.signing_key)
    monkeypatch.setenv("OTASUKE_HELPDESK_BOT_PORT", str(settings.port("helpdesk_bot")))
    monkeypatch.setenv("OTASUKE_HOST", settings.host)
    result = await asyncio.to_thread(CliRunner().invoke, helpdesk_cli, [
        "operator", "add", "--partner", "chubu", "--email", "kato@chubu.example", "--name", "加藤", "--admin"])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith(helpdesk.url + "/console/set-password#token=")
    done = await helpdesk.client.post("/console/set-password", json={
        "token": fragment_token(url), "password": PASSWORD, "password_confirm": PASSWORD})
    assert done.status_code == 200
    listed = await asyncio.to_thread(CliRunner().invoke, helpdesk_cli, ["operator", "list", "--partner", "chubu"])
    assert "kato@chubu.example  加藤  admin active" in listed.output
