"""What a user types in LINE goes through the real Rasa bot (server + action server, the trained
model) and a real answer comes back through the LINE platform's reply API.

Journeys that also need other services (telemetry alerts, the diagnosis in the web chat) are in
the repository's tests/test_e2e_helpdesk_journeys.py.
"""
from __future__ import annotations

import uuid

import httpx

import pytest

from helpdesk_testkit import eventually, line_event, link_code, post_line, start_helpdesk

PARTNER = "chubu"


@pytest.fixture
def signing_key(rasa_bot):
    """The action server mints its tokens with the session bot's key: every service must share it."""
    return rasa_bot.signing_key


@pytest.fixture
async def desk(rasa_bot, start_service, line_platform, monkeypatch, auth_headers):
    """The help desk talking to the session's Rasa bot, on the ports its action server calls."""
    monkeypatch.setenv("OTASUKE_RASA_URL", rasa_bot.url)
    svc = await start_helpdesk(start_service, monkeypatch, auth_headers, line_platform.url, ports=rasa_bot.ports)
    yield svc
    await svc.client.aclose()


def new_user() -> str:
    return "U" + uuid.uuid4().hex  # LINE user ids: "U" + 32 hex digits; fresh per test (Rasa's tracker is per session)


async def say(desk, line_platform, user: str, text: str) -> list[dict]:
    """Send a LINE message; returns the messages LINE was asked to reply with (for that reply token)."""
    token = uuid.uuid4().hex
    resp = await post_line(desk.client, line_event(user, text=text, reply_token=token))
    assert resp.status_code == 200, resp.text
    return [m for r in line_platform.sent("reply") if r["body"]["replyToken"] == token for m in r["body"]["messages"]]


def text_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("altText") or "" for m in messages)


def quick_replies(messages: list[dict]) -> list[str]:
    return [i["action"]["label"] for m in messages for i in ((m.get("quickReply") or {}).get("items") or [])]


async def linked_user(desk, line_platform, auth_headers, company: str = "gifu-seiki", name: str = "総務 山田") -> str:
    user = new_user()
    code = await link_code(desk.client, auth_headers("company_admin", partner_id=PARTNER, company_id=company), company, name)
    assert f"{name}様として登録しました" in text_of(await say(desk, line_platform, user, code))
    return user


async def test_asking_for_a_person_opens_a_ticket_silences_the_bot_and_the_operator_answers_in_line(
        desk, line_platform, auth_headers):
    user = await linked_user(desk, line_platform, auth_headers)

    handed = await say(desk, line_platform, user, "担当者と話したい")
    # The bot's own hand-over words, then once (not twice) that a person answers from now on.
    assert len(handed) == 2 and "担当者" in handed[0]["text"]
    assert handed[1]["text"] == "ここから先は担当者がこのチャットでお返事します（自動応答は停止します）。"
    op = auth_headers("operator", partner_id=PARTNER)
    [ticket] = (await desk.client.get("/api/v1/tickets", headers=op)).json()
    assert ticket["company_id"] == "gifu-seiki" and ticket["source"] == "user_request"
    assert ticket["summary"] == "担当者と話したい"

    # While the operator has it the bot does not answer questions, it says who will.
    waiting = await say(desk, line_platform, user, "工事はいつ？")
    assert text_of(waiting) == "担当者に伝えました。担当者からの返事をお待ちください。"

    reply = await desk.client.post(f"/api/v1/tickets/{ticket['ticket_id']}/replies", headers=op,
                                   json={"text": "担当の鈴木です。ご用件をお聞かせください。"})
    assert reply.status_code == 201, reply.text
    pushed = line_platform.sent("push", to=user)
    assert pushed and pushed[-1]["body"]["messages"][0]["text"] == "担当の鈴木です。ご用件をお聞かせください。"

    # After the operator's first answer the customer talks to the operator; no bot, no notice.
    assert await say(desk, line_platform, user, "UTMの件です") == []
    detail = (await desk.client.get(f"/api/v1/tickets/{ticket['ticket_id']}", headers=op)).json()
    assert [m["text"] for m in detail["transcript"] if m["sender"] == "customer"][-2:] == ["工事はいつ？", "UTMの件です"]

    # Closing gives the chat back to the bot.
    closed = await desk.client.post(f"/api/v1/tickets/{ticket['ticket_id']}/close", headers=op,
                                    json={"resolution": "工事日を電話で案内"})
    assert closed.status_code == 200, closed.text
    assert "お助け隊" in text_of(await say(desk, line_platform, user, "こんにちは"))


async def test_when_is_the_installation_gets_the_scheduled_date(desk, line_platform, auth_headers):
    op = auth_headers("operator", partner_id=PARTNER)
    app = await desk.client.post("/api/v1/applications", headers=op, json={"service": "utm", "company_id": "gifu-seiki"})
    assert app.status_code == 201, app.text
    app_id = app.json()["application_id"]
    for body in ({"status": "confirmed"}, {"status": "site_survey"},
                 {"status": "installation_scheduled", "scheduled_for": "2025-06-03T10:00:00+09:00"}):
        assert (await desk.client.post(f"/api/v1/applications/{app_id}/status", headers=op, json=body)).status_code == 200
    user = await linked_user(desk, line_platform, auth_headers)

    answer = text_of(await say(desk, line_platform, user, "工事はいつ？"))
    assert "UTM（ネットワーク監視機器）の設置工事は6月3日(火) 10:00の予定です。" in answer

    # Another company's user of the same partner hears about their own applications only.
    other = await linked_user(desk, line_platform, auth_headers, company="ena-foods", name="経理 田中")
    assert "6月3日" not in text_of(await say(desk, line_platform, other, "工事はいつ？"))


async def test_an_unlinked_line_user_is_asked_for_the_link_code_not_given_data(desk, line_platform, auth_headers):
    op = auth_headers("operator", partner_id=PARTNER)
    app_id = (await desk.client.post("/api/v1/applications", headers=op,
                                     json={"service": "edr", "company_id": "gifu-seiki"})).json()["application_id"]
    await desk.client.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": "confirmed"})
    stranger = new_user()

    for question in ("工事はいつ？", "診断結果を教えて"):
        answer = await say(desk, line_platform, stranger, question)
        assert "連携コード" in text_of(answer), (question, text_of(answer))
        assert "EDR" not in text_of(answer) and "満点" not in text_of(answer)

    # The offered 担当者と話す button works from LINE too, and the operator sees what was tapped.
    [data] = [i["action"]["data"] for m in answer for i in (m.get("quickReply") or {}).get("items", [])
              if i["action"]["label"] == "担当者と話す"]
    token = uuid.uuid4().hex
    await post_line(desk.client, line_event(stranger, postback=data, reply_token=token))
    assert "自動応答は停止します" in text_of(
        [m for r in line_platform.sent("reply") if r["body"]["replyToken"] == token for m in r["body"]["messages"]])
    [ticket] = (await desk.client.get("/api/v1/tickets", headers=op)).json()
    detail = (await desk.client.get(f"/api/v1/tickets/{ticket['ticket_id']}", headers=op)).json()
    assert "担当者と話す" in [m["text"] for m in detail["transcript"] if m["sender"] == "customer"]
    await desk.client.post(f"/api/v1/tickets/{ticket['ticket_id']}/close", headers=op, json={"resolution": "連携方法を案内"})

    # A wrong code is refused politely; the right one links and then the question is answered.
    assert "連携コードが正しくない" in text_of(await say(desk, line_platform, stranger, "1234-5678"))
    code = await link_code(desk.client, op, "gifu-seiki")
    assert "登録しました" in text_of(await say(desk, line_platform, stranger, code))
    assert "EDR（パソコン監視ソフト）のお申し込みは「申込確定」です" in text_of(
        await say(desk, line_platform, stranger, "工事はいつ？"))


async def test_someone_talking_to_rasa_directly_cannot_claim_a_company(desk, rasa_bot, auth_headers):
    """Rasa's REST channel trusts its metadata; the action server must not, without the help desk's proof."""
    op = auth_headers("operator", partner_id=PARTNER)
    app_id = (await desk.client.post("/api/v1/applications", headers=op,
                                     json={"service": "utm", "company_id": "gifu-seiki"})).json()["application_id"]
    for body in ({"status": "confirmed"}, {"status": "site_survey"},
                 {"status": "installation_scheduled", "scheduled_for": "2025-06-03T10:00:00+09:00"}):
        assert (await desk.client.post(f"/api/v1/applications/{app_id}/status", headers=op, json=body)).status_code == 200
    forged = {"company_id": "gifu-seiki", "partner_id": PARTNER, "channel": "web"}
    for metadata in (forged, {**forged, "tenant_ts": 1, "tenant_proof": "0" * 64}):
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(f"{rasa_bot.url}/webhooks/rest/webhook",
                                json={"sender": "intruder", "message": "工事はいつ？", "metadata": metadata})
        said = " ".join(m.get("text") or "" for m in r.json())
        assert "6月3日" not in said
        assert "コード" in said  # treated like an unlinked chat: asked for the link code
    # The help desk's own client, which signs the tenant, does get the answer.
    replies = await rasa_bot.client.respond("linked-user", "工事はいつ？", forged)
    assert "6月3日" in " ".join(m.text or "" for m in replies)
