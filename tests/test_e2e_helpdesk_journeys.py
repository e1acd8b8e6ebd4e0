"""Help desk journeys across services, the way an SME user takes them: a message typed in LINE or
the web chat goes through the real Rasa bot (server + action server, trained model), whose actions
call the real telemetry / diagnosis services, and the answer comes back to the user.

The Rasa bot is started once per pytest process (services/helpdesk_bot/tests/helpdesk_rasa.py,
shared with the help desk's own tests).
"""
from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "helpdesk_bot" / "tests"))
from helpdesk_rasa import PARTNER, acquire  # noqa: E402
from helpdesk_testkit import eventually, line_event, link_code, line_platform_stub, post_line, start_helpdesk  # noqa: E402

from otasuke.events import AggregateRef, Tenant, new_id  # noqa: E402
from otasuke.events.schemas.telemetry import AlertRaised  # noqa: E402
from otasuke.platform.companies import get_company  # noqa: E402

COMPANY = "gifu-seiki"


@pytest.fixture(scope="session")
def rasa_bot(nats_server_url, postgres_server_url, tmp_path_factory):
    with acquire(nats_server_url, postgres_server_url, tmp_path_factory) as bot:
        yield bot


@pytest.fixture
def signing_key(rasa_bot):
    """The action server mints its tokens with the session bot's key: every service must share it."""
    return rasa_bot.signing_key


@pytest.fixture
async def line_platform():
    async with line_platform_stub() as platform:
        yield platform


@pytest.fixture
async def desk(rasa_bot, start_service, line_platform, monkeypatch, auth_headers):
    monkeypatch.setenv("OTASUKE_RASA_URL", rasa_bot.url)
    svc = await start_helpdesk(start_service, monkeypatch, auth_headers, line_platform.url, ports=rasa_bot.ports)
    yield svc
    await svc.client.aclose()


def text_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("altText") or "" for m in messages)


async def append_alert(store, *, severity: str, title: str, explanation: str, action: str, host: str,
                       seen: datetime) -> str:
    """What the telemetry detection worker appends when a detection becomes an alert."""
    alert_id = new_id()
    ref = AggregateRef("telemetry", Tenant(PARTNER, COMPANY), "alert_series", f"{alert_id}-group")
    await store.append(ref, [AlertRaised(
        alert_id=alert_id, rule_id="utm_c2_callback", rule_title="C2 callback", category="c2_callback",
        severity=severity, device_id="utm-1", host=host, first_seen=seen, last_seen=seen,
        title_ja=title, explanation_ja=explanation, action_ja=action, kind="utm")], expected_seq=0)
    return alert_id


async def test_a_question_typed_after_an_alert_card_is_answered_about_that_alert(
        desk, rasa_bot, start_service, line_platform, auth_headers):
    telemetry = await start_service("telemetry", ports=rasa_bot.ports)
    user = "U" + uuid.uuid4().hex
    code = await link_code(desk.client, auth_headers("company_admin", partner_id=PARTNER, company_id=COMPANY), COMPANY)
    await post_line(desk.client, line_event(user, text=code))

    now = datetime.now(UTC)
    await append_alert(
        desk.runtime.store, severity="high", host="PC-経理01", seen=now - timedelta(minutes=5),
        title="不審な外部サーバーとの通信", explanation="経理のパソコンが、攻撃者が使うサーバーと通信しました。",
        action="そのパソコンのLANケーブルを抜いてください。")
    # A newer, low-severity alert that is not pushed: "the latest alert" would be the wrong answer.
    await append_alert(
        desk.runtime.store, severity="low", host="PC-受付02", seen=now,
        title="迷惑メールの受信", explanation="迷惑メールを受信しました。", action="メールを削除してください。")

    pushes = await eventually(lambda: _async(line_platform.sent("push", to=user)))
    card = pushes[0]["body"]["messages"][0]
    assert card["type"] == "flex" and "不審な外部サーバーとの通信" in card["altText"]
    op = auth_headers("operator", partner_id=PARTNER)
    async with httpx.AsyncClient(base_url=telemetry.url, timeout=10) as http:
        async def both_alerts():
            return len((await http.get("/api/v1/alerts", params={"company_id": COMPANY}, headers=op)).json()) == 2
        await eventually(both_alerts)

    # The user asks what to do. The answer is about the carded alert, never the newer one; the steps
    # are in it or one tap away (the bot may first explain the alert and offer 「どうすればいい？」).
    first = await say(desk, line_platform, user, "アラートが来たけど何をすればいいですか")
    seen = text_of(first)
    assert "不審な外部サーバーとの通信" in seen and "迷惑メール" not in seen
    if "そのパソコンのLANケーブルを抜いてください。" not in seen:
        seen += text_of(await tap(desk, line_platform, user, first, "どうすればいい？"))
    assert "そのパソコンのLANケーブルを抜いてください。" in seen and "迷惑メール" not in seen
    assert "PC-経理01" in seen or "対応を依頼" in quick_replies(first)

    # "What does it mean?" is about the same alert: its plain-Japanese explanation and the machine.
    explained = text_of(await say(desk, line_platform, user, "このアラートはどういう意味ですか"))
    assert "経理のパソコンが、攻撃者が使うサーバーと通信しました。" in explained and "PC-経理01" in explained
    assert "迷惑メール" not in explained


async def say(desk, line_platform, user: str, text: str) -> list[dict]:
    """Send a LINE message; returns what LINE was asked to reply with (for that reply token)."""
    token = uuid.uuid4().hex
    assert (await post_line(desk.client, line_event(user, text=text, reply_token=token))).status_code == 200
    return [m for r in line_platform.sent("reply") if r["body"]["replyToken"] == token for m in r["body"]["messages"]]


async def tap(desk, line_platform, user: str, messages: list[dict], label: str) -> list[dict]:
    """Tap a quick-reply button of a LINE message (LINE sends its postback data back)."""
    [data] = [i["action"]["data"] for m in messages for i in (m.get("quickReply") or {}).get("items", [])
              if i["action"]["label"] == label]
    token = uuid.uuid4().hex
    assert (await post_line(desk.client, line_event(user, postback=data, reply_token=token))).status_code == 200
    return [m for r in line_platform.sent("reply") if r["body"]["replyToken"] == token for m in r["body"]["messages"]]


def quick_replies(messages: list[dict]) -> list[str]:
    return [i["action"]["label"] for m in messages for i in (m.get("quickReply") or {}).get("items", [])]


async def _async(value):
    return value


async def test_web_chat_diagnosis_walk_through_is_recorded_in_the_diagnosis_service(
        desk, rasa_bot, start_service, browser, auth_headers):
    diagnosis = await start_service("diagnosis", ports=rasa_bot.ports)
    await eventually(lambda: get_company(diagnosis.runtime.pool, COMPANY))
    code = await link_code(desk.client, auth_headers("company_admin", partner_id=PARTNER, company_id=COMPANY), COMPANY,
                           name="社長 佐藤")

    chat = await browser.new_page(viewport={"width": 390, "height": 800}, is_mobile=True)
    await chat.goto(desk.url + "/")
    await chat.wait_for_selector("body[data-connected='1']")
    await chat.fill("#text", code)
    await chat.click("form#send button")
    await chat.wait_for_selector("text=社長 佐藤様として登録しました")

    await chat.fill("#text", "診断を始めたい")
    await chat.click("form#send button")
    questions = chat.locator(".msg.bot").filter(has=chat.locator("button", has_text="わからない"))
    await questions.first.wait_for()
    assert await questions.first.locator("button").all_inner_texts() == ["はい", "いいえ", "わからない"]
    first = await questions.first.inner_text()

    await questions.first.locator("button", has_text="いいえ").click()
    await questions.nth(1).wait_for()
    second = await questions.nth(1).inner_text()
    assert second != first
    await questions.nth(1).locator("button", has_text="わからない").click()
    await questions.nth(2).wait_for()
    assert await questions.nth(2).locator("button").all_inner_texts() == ["はい", "いいえ", "わからない"]

    # The two answers are in the diagnosis service, not only in the chat.
    headers = auth_headers("company_admin", partner_id=PARTNER, company_id=COMPANY)
    async with httpx.AsyncClient(base_url=diagnosis.url, timeout=10) as http:
        [summary] = (await http.get("/api/v1/diagnoses", params={"company_id": COMPANY}, headers=headers)).json()
        detail = (await http.get(f"/api/v1/diagnoses/{summary['id']}", headers=headers)).json()
    given = [a["implemented"] for a in detail["answers"].values() if not a["auto_filled"]]
    assert sorted(given, key=str) == [False, None]
    assert detail["progress"]["answered"] >= 2
