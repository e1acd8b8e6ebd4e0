"""Chat gaps closed with the real Rasa bot: the diagnosis report opens from the chat without a login,
a question after an alert card is about that card until the topic ends (LINE and web), and the ops
replay shows the label of a tapped button.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets

from otasuke.events import AggregateRef, EventStore, Tenant, new_id
from otasuke.events.schemas.telemetry import AlertRaised
from otasuke.platform.companies import get_company

from helpdesk_testkit import eventually, line_event, link_code, post_line, start_helpdesk

PARTNER = "chubu"
COMPANY = "gifu-seiki"


@pytest.fixture
def signing_key(rasa_bot):
    """The action server mints its tokens with the session bot's key: every service must share it."""
    return rasa_bot.signing_key


@pytest.fixture
async def desk(rasa_bot, start_service, line_platform, monkeypatch, auth_headers):
    monkeypatch.setenv("OTASUKE_RASA_URL", rasa_bot.url)
    svc = await start_helpdesk(start_service, monkeypatch, auth_headers, line_platform.url, ports=rasa_bot.ports)
    yield svc
    await svc.client.aclose()


async def say(desk, line_platform, user: str, text: str | None = None, postback: str | None = None) -> list[dict]:
    token = uuid.uuid4().hex
    event = line_event(user, text=text, reply_token=token) if text is not None else line_event(user, postback=postback,
                                                                                               reply_token=token)
    assert (await post_line(desk.client, event)).status_code == 200
    return [m for r in line_platform.sent("reply") if r["body"]["replyToken"] == token for m in r["body"]["messages"]]


def text_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("altText") or "" for m in messages)


async def linked_user(desk, line_platform, auth_headers, company: str = COMPANY) -> str:
    user = "U" + uuid.uuid4().hex
    code = await link_code(desk.client, auth_headers("company_admin", partner_id=PARTNER, company_id=company), company)
    assert "様として登録しました" in text_of(await say(desk, line_platform, user, code))
    return user


async def completed_diagnosis(http: httpx.AsyncClient, headers: dict, company: str) -> str:
    started = await http.post("/api/v1/diagnoses", json={"company_id": company}, headers=headers)
    assert started.status_code == 201, started.text
    diagnosis_id = started.json()["id"]
    while not (nxt := (await http.get(f"/api/v1/diagnoses/{diagnosis_id}/next", headers=headers)).json())["done"]:
        q = nxt["question"]
        r = await http.put(f"/api/v1/diagnoses/{diagnosis_id}/answers/{q['id']}", headers=headers,
                           json={"implemented": False, "items": []})
        assert r.status_code == 200, r.text
    done = await http.post(f"/api/v1/diagnoses/{diagnosis_id}/complete", headers=headers, json={})
    assert done.status_code == 200, done.text
    return diagnosis_id


async def test_the_report_link_in_the_chat_opens_the_report_without_a_login(
        desk, rasa_bot, start_service, line_platform, browser, auth_headers):
    diagnosis = await start_service("diagnosis", ports=rasa_bot.ports)
    for company in (COMPANY, "ena-foods"):
        await eventually(lambda: get_company(diagnosis.runtime.pool, company))
    op = auth_headers("operator", partner_id=PARTNER)
    async with httpx.AsyncClient(base_url=diagnosis.url, timeout=30) as http:
        ours = await completed_diagnosis(http, op, COMPANY)
        theirs = await completed_diagnosis(http, op, "ena-foods")
        score = (await http.get(f"/api/v1/diagnoses/{ours}", headers=op)).json()["result"]["score"]

    user = await linked_user(desk, line_platform, auth_headers)
    messages = await say(desk, line_platform, user, "診断結果を教えて")
    assert f"{score} 点" in text_of(messages)
    # In LINE the link is a button to tap, not a URL to copy.
    [url] = [m["contents"]["footer"]["contents"][0]["action"]["uri"] for m in messages if m["type"] == "flex"]
    assert url.startswith(diagnosis.url + "/report/" + ours + "?t=")  # absolute, this company's report

    page = await browser.new_page(viewport={"width": 390, "height": 800}, is_mobile=True)
    opened = await page.goto(url)
    assert opened.status == 200
    body = await page.inner_text("body")
    assert f"{COMPANY} 株式会社" in body and str(score) in body
    pdf_href = await page.get_attribute("a:has-text('PDF')", "href")  # the PDF is one tap away, same token
    async with httpx.AsyncClient(base_url=diagnosis.url, timeout=60) as http:
        pdf = await http.get(pdf_href)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        # The token is no API credential.
        token = url.split("?t=", 1)[1]
        assert (await http.get(f"/api/v1/diagnoses/{ours}", headers={"Authorization": f"Bearer {token}"})).status_code == 401

    # Company A's link with the id of B's report: not found, nothing of B shown.
    other = await page.goto(url.replace(f"/report/{ours}?", f"/report/{theirs}?"))
    assert other.status == 404
    assert "ena-foods" not in await page.content() and "見つかりませんでした" in await page.inner_text("body")

    # A tampered token and an expired one: a Japanese explanation, not a stack trace.
    tampered = await page.goto(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    assert tampered.status == 403 and "正しくない" in await page.inner_text("body")
    from otasuke.diagnosis.entrypoints.report_link import issue

    old = issue(rasa_bot.signing_key, ours, PARTNER, COMPANY, datetime.now(UTC) - timedelta(minutes=1))
    expired = await page.goto(f"{diagnosis.url}/report/{ours}?t={old}")
    assert expired.status == 410 and "有効期限が切れています" in await page.inner_text("body")
    assert "Traceback" not in await page.content()


async def append_alert(store, *, severity: str, title: str, explanation: str, action: str, host: str) -> str:
    alert_id = new_id()
    now = datetime.now(UTC)
    ref = AggregateRef("telemetry", Tenant(PARTNER, COMPANY), "alert_series", f"{alert_id}-group")
    await store.append(ref, [AlertRaised(
        alert_id=alert_id, rule_id="utm_c2_callback", rule_title="C2 callback", category="c2_callback",
        severity=severity, device_id="utm-1", host=host, first_seen=now, last_seen=now,
        title_ja=title, explanation_ja=explanation, action_ja=action, kind="utm")], expected_seq=0)
    return alert_id


async def carded_and_newer_alert(desk, telemetry, auth_headers) -> str:
    """A high alert (pushed as a card), then a newer low one (not pushed): 'the latest alert' is not the card's."""
    carded = await append_alert(desk.runtime.store, severity="high", host="PC-経理01", title="不審な外部サーバーとの通信",
                                explanation="経理のパソコンが、攻撃者が使うサーバーと通信しました。",
                                action="そのパソコンのLANケーブルを抜いてください。")
    await append_alert(desk.runtime.store, severity="low", host="PC-受付02", title="迷惑メールの受信",
                       explanation="迷惑メールを受信しました。", action="メールを削除してください。")
    op = auth_headers("operator", partner_id=PARTNER)
    async with httpx.AsyncClient(base_url=telemetry.url, timeout=10) as http:
        async def both():
            return len((await http.get("/api/v1/alerts", params={"company_id": COMPANY}, headers=op)).json()) == 2
        await eventually(both)
    return carded


async def test_after_an_alert_card_questions_are_about_it_until_the_user_closes_the_topic(
        desk, rasa_bot, start_service, line_platform, nc, auth_headers):
    telemetry = await start_service("telemetry", ports=rasa_bot.ports)
    user = await linked_user(desk, line_platform, auth_headers)
    carded = await carded_and_newer_alert(desk, telemetry, auth_headers)

    async def card():
        return line_platform.sent("push", to=user)
    await eventually(card)

    first = await say(desk, line_platform, user, "アラートが来たけど何をすればいいですか")
    assert "不審な外部サーバーとの通信" in text_of(first) and "迷惑メール" not in text_of(first)

    # A tapped quick reply reaches the bot as its payload; the ops replay keeps what the user tapped.
    items = [i["action"] for m in first for i in (m.get("quickReply") or {}).get("items", [])
             if i["action"]["label"] != "対応を依頼"]
    assert items, first
    tapped = await say(desk, line_platform, user, postback=items[0]["data"])
    assert "迷惑メール" not in text_of(tapped)
    store = EventStore(nc)

    async def replayed_label():
        async for r in store.read("HELPDESK", f"helpdesk.{PARTNER}.{COMPANY}.conversation.line-{user}"):
            if r.envelope.type != "helpdesk.conversation_event":
                continue  # the transcript shares the subject
            p = r.data.payload
            if p.get("event") == "user" and (p.get("metadata") or {}).get("shown") == items[0]["label"]:
                return p
        return None
    replay = await eventually(replayed_label)
    assert replay["text"].startswith("/")  # the bot got the payload, the replay shows the label too

    # 問題ない closes the card's topic: the next question is not taken to be about it.
    assert "問題ない" in text_of(await say(desk, line_platform, user, postback=f"alert:no_problem:{carded}"))
    later = text_of(await say(desk, line_platform, user, "このアラートはどういう意味ですか"))
    assert "迷惑メールの受信" in later and "不審な外部サーバー" not in later


async def test_in_the_web_chat_a_question_after_a_card_is_about_that_card(
        desk, rasa_bot, start_service, auth_headers):
    telemetry = await start_service("telemetry", ports=rasa_bot.ports)
    visitor = "v" + uuid.uuid4().hex[:20]
    code = await link_code(desk.client, auth_headers("company_admin", partner_id=PARTNER, company_id=COMPANY), COMPANY)
    ws_url = desk.url.replace("http://", "ws://") + f"/chat/ws?visitor={visitor}"
    async with websockets.connect(ws_url) as ws:
        async def until(predicate):
            while True:
                msg = json.loads(await ws.recv())
                if predicate(msg):
                    return msg

        await ws.send(json.dumps({"type": "text", "text": code}))
        await until(lambda m: "様として登録しました" in (m.get("text") or ""))
        await carded_and_newer_alert(desk, telemetry, auth_headers)
        card = await until(lambda m: m.get("card"))
        assert card["card"]["title"] == "不審な外部サーバーとの通信"

        await ws.send(json.dumps({"type": "text", "text": "このアラートはどういう意味ですか"}))
        reply = await until(lambda m: m.get("sender") == "bot" and m.get("text"))
        assert "不審な外部サーバーとの通信" in reply["text"] and "迷惑メール" not in reply["text"]


async def test_two_misses_hand_over_only_when_they_come_in_a_row(rasa_bot):
    sender = f"m-{uuid.uuid4().hex[:8]}"
    meta = {"partner_id": PARTNER, "company_id": COMPANY}  # the client adds the help desk's tenant proof
    first = await rasa_bot.client.respond(sender, "xyz", meta)
    assert "確認" in " ".join(m.text or "" for m in first) and not any(m.custom for m in first)
    assert not any(m.custom for m in await rasa_bot.client.respond(sender, "こんにちは", meta))
    # A miss after an answered turn is a first miss again: a clarifying question, not a hand-over.
    again = await rasa_bot.client.respond(sender, "うーん", meta)
    assert not any(m.custom for m in again) and "確認" in " ".join(m.text or "" for m in again)
    handed = await rasa_bot.client.respond(sender, "。。。", meta)
    assert [m.custom["reason"] for m in handed if m.custom] == ["bot_failed"]
