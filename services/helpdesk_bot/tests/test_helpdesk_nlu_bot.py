"""The bot end to end: a real Rasa server and action server (the .venv-rasa env, the trained model)
started once per session (the `rasa_bot` fixture in conftest.py), against the session's real
PostgreSQL (tracker store) and NATS (event broker).
"""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from otasuke.events import registry
from otasuke.events.envelope import Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered
from otasuke.events.store import EventStore
from otasuke.events.streams import AggregateRef
from otasuke.helpdesk_bot.nlu import BotClient
from otasuke.platform.embedded import free_port

from helpdesk_rasa import PARTNER


@pytest.fixture
def rasa_env_vars(rasa_bot, monkeypatch):
    """Point the help desk's NLU route at the session's Rasa server."""
    monkeypatch.setenv("OTASUKE_RASA_URL", rasa_bot.url)
    return rasa_bot


def meta(company: str) -> dict:
    return {"partner_id": PARTNER, "company_id": company, "channel": "web"}


def texts(replies) -> str:
    return "\n".join(m.text or "" for m in replies)


# ---- NLU -------------------------------------------------------------------------

UNSEEN = {
    "UTMの設置工事って結局いつになりそうですか": "application_status",
    "添付を開いたら画面に英語の脅迫文が出て、ファイルが開けません": "report_incident",
    "うちの事務所まで技術の人に来てもらいたいです": "dispatch_request",
    "チャットじゃなくて担当の人と話したいです": "human_handoff",
    "前回の訓練メール、何人がリンクを押しちゃった？": "training_info",
    "うちの保険って情報漏えいの賠償も出ますか": "insurance_info",
    "アラートに出てる「C&Cコールバック」の意味がわからないです": "alert_explain",
}


async def test_parse_route_names_the_intent_of_unseen_phrasings(rasa_env_vars, start_service, auth_headers):
    svc = await start_service("helpdesk_bot", signing_key=rasa_env_vars.signing_key)
    headers = auth_headers("company_admin", partner_id=PARTNER, company_id="c1")
    headers["Authorization"] = "Bearer " + _token(rasa_env_vars.signing_key, "c1")
    async with httpx.AsyncClient(base_url=svc.url, timeout=30) as http:
        assert (await http.post("/api/v1/nlu/parse", json={"text": "こんにちは"})).status_code == 401
        assert (await http.post("/api/v1/nlu/parse", json={"text": ""}, headers=headers)).status_code == 400
        for text, intent in UNSEEN.items():
            r = await http.post("/api/v1/nlu/parse", json={"text": text}, headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["intent"]["name"] == intent, (text, body["intent"])
            assert 0 < body["intent"]["confidence"] <= 1
            assert isinstance(body["entities"], list)
        # Nonsense: the bot would ask back, and the route still names one of its own intents.
        body = (await http.post("/api/v1/nlu/parse", json={"text": "xyz"}, headers=headers)).json()
        assert body["clarify"] is True and body["intent"]["name"] == "out_of_scope", body
        assert all(r["name"] != "nlu_fallback" for r in body["intent_ranking"])
        body = (await http.post("/api/v1/nlu/parse", json={"text": "ありがとうございました"}, headers=headers)).json()
        assert body["clarify"] is False and body["intent"]["name"] == "thanks", body


def _token(key: str, company: str) -> str:
    from otasuke.platform.auth import issue_token

    return issue_token(key, subject="t", role="company_admin", partner_id=PARTNER, company_id=company)


async def test_ip_addresses_and_domains_are_extracted_for_an_allow_list_request(rasa_bot):
    result = await rasa_bot.client.parse("192.168.10.24 と files.example.co.jp への通信を除外してください")
    found = {(e["entity"], e["value"]) for e in result["entities"]}
    assert ("ip_address", "192.168.10.24") in found
    assert ("domain", "files.example.co.jp") in found
    assert result["intent"]["name"] == "whitelist_request"

    replies = await rasa_bot.client.respond(f"w-{uuid.uuid4().hex[:8]}", "10.1.2.3 を除外リストに入れてほしいです", meta("c1"))
    handoff = [m.custom for m in replies if m.custom]
    assert handoff and handoff[0]["type"] == "handoff" and handoff[0]["reason"] == "whitelist_request"
    assert "10.1.2.3" in handoff[0]["targets"] and "10.1.2.3" in texts(replies)


@pytest.mark.parametrize("text", ["xyz", "うーん", "ｗｗｗ", "。。。"])
async def test_nonsense_is_never_answered_with_confidence(rasa_bot, text):
    result = await rasa_bot.client.parse(text)
    assert result["intent"]["name"] == "nlu_fallback", result["intent"]
    ranking = [r for r in result["intent_ranking"] if r["name"] != "nlu_fallback"]
    assert ranking[0]["name"] == "out_of_scope" and ranking[0]["confidence"] < 0.55


async def test_set_phrases_between_intents_are_read_as_people_mean_them(rasa_bot):
    expected = {
        "お世話になっております、山田工業の経理です": "greet",
        "では、本日はこれで失礼いたします": "goodbye",
        "はい、それで進めてもらえますか": "affirm",
        "今日の晩ごはん何にしよう": "out_of_scope",
    }
    for text, intent in expected.items():
        assert (await rasa_bot.client.parse(text))["intent"]["name"] == intent, text



async def test_half_width_katakana_is_understood_like_full_width(rasa_bot):
    # Old phones and some PCs type half-width katakana; it must not read as unknown words.
    expected = {
        "ﾄﾞｳﾓｱﾘｶﾞﾄｳｺﾞｻﾞｲﾏｼﾀ": "thanks",
        "ｻｲﾊﾞｰﾎｹﾝﾉ ﾎｼｮｳﾊﾝｲｦ ｵｼｴﾃ": "insurance_info",
        "ﾗﾝｻﾑｳｪｱﾆ ｶﾝｾﾝｼﾀｶﾓｼﾚﾏｾﾝ": "report_incident",
    }
    for text, intent in expected.items():
        result = await rasa_bot.client.parse(text)
        assert result["intent"]["name"] == intent, (text, result["intent"])
    # A short all-kana fragment has no kanji to anchor Sudachi (ｶﾝｾﾝｼﾀ ｶﾓ reads as 関する + 鴨): the bot
    # may ask back rather than answer, but its first suggestion is the right one.
    result = await rasa_bot.client.parse("ﾗﾝｻﾑｳｪｱﾆ ｶﾝｾﾝｼﾀ ｶﾓ")
    ranking = [r for r in result["intent_ranking"] if r["name"] != "nlu_fallback"]
    assert ranking[0]["name"] == "report_incident", ranking[:3]
    # Entities still point into the text as the user typed it.
    text = "ｻｰﾊﾞｰの 10.0.0.8 を除外してください"
    ip = next(e for e in (await rasa_bot.client.parse(text))["entities"] if e["entity"] == "ip_address")
    assert text[ip["start"]:ip["end"]] == "10.0.0.8"

# ---- dialogue ----------------------------------------------------------------------

async def test_nonsense_gets_a_clarifying_question_with_buttons(rasa_bot):
    replies = await rasa_bot.client.respond(f"x-{uuid.uuid4().hex[:8]}", "xyz", meta("c1"))
    assert not any(m.custom for m in replies)
    assert "確認" in texts(replies)
    assert any(b.payload == "/human_handoff" for m in replies for b in m.buttons)


async def test_low_confidence_asks_with_buttons_then_hands_over(rasa_bot):
    sender = f"u-{uuid.uuid4().hex[:8]}"
    first = await rasa_bot.client.respond(sender, "例の件", meta("c1"))
    assert not any(m.custom for m in first), "never a confident answer or hand-over on the first miss"
    buttons = [b for m in first for b in m.buttons]
    assert "確認" in texts(first) and len(buttons) >= 2
    assert any(b.payload == "/human_handoff" for b in buttons)
    second = await rasa_bot.client.respond(sender, "えーと", meta("c1"))
    custom = [m.custom for m in second if m.custom]
    assert custom and custom[0]["type"] == "handoff" and custom[0]["reason"] == "bot_failed"
    assert "担当者" in texts(second)


async def test_incident_report_hands_over_with_first_aid_advice(rasa_bot):
    replies = await rasa_bot.client.respond(f"i-{uuid.uuid4().hex[:8]}", "ランサムウェアに感染したみたいです", meta("c1"))
    custom = [m.custom for m in replies if m.custom]
    assert custom[0] == {**custom[0], "type": "handoff", "reason": "incident_report"}
    assert "LANケーブル" in texts(replies)


async def test_an_unreachable_service_gets_a_polite_japanese_answer(rasa_bot):
    # Nothing listens on the insurance port of this session.
    replies = await rasa_bot.client.respond(f"s-{uuid.uuid4().hex[:8]}", "保険でどこまでカバーされますか", meta("c1"))
    assert "保険の情報を確認できません" in texts(replies)
    assert any(b.payload == "/human_handoff" for m in replies for b in m.buttons)


async def test_an_unlinked_chat_is_asked_for_its_link_code(rasa_bot):
    replies = await rasa_bot.client.respond(f"n-{uuid.uuid4().hex[:8]}", "診断結果を教えて", {"channel": "line"})
    assert "連携コード" in texts(replies)


async def test_rasa_down_means_hand_over_not_silence():
    replies = await BotClient(f"http://127.0.0.1:{free_port()}").respond("x", "こんにちは", {})
    assert replies[0].custom["type"] == "handoff" and replies[0].custom["reason"] == "bot_unavailable"
    assert "担当者" in replies[0].text


async def test_diagnosis_walk_through_records_answers_in_the_diagnosis_service(rasa_bot, start_service, nc):
    svc = await start_service("diagnosis", ports=rasa_bot.ports, signing_key=rasa_bot.signing_key)
    company = f"d{uuid.uuid4().hex[:6]}"
    store = EventStore(nc)
    [rec] = await store.append(
        AggregateRef("enrolment", Tenant(PARTNER, company), "company", company),
        [CompanyRegistered(company_id=company, name="中部テスト工業", industry="manufacturing", employees=30, prefecture="愛知県")],
        expected_seq=0,
    )
    await svc.runtime.wait_for("diagnosis.companies", rec.seq)

    sender = f"diag-{uuid.uuid4().hex[:8]}"
    first = await rasa_bot.client.respond(sender, "セキュリティ診断を始めたいです", meta(company))
    question = [m for m in first if m.buttons]
    assert question, texts(first)
    assert [b.title for b in question[-1].buttons] == ["はい", "いいえ", "わからない"]
    first_question = question[-1].text

    no = next(b.payload for b in question[-1].buttons if b.title == "いいえ")
    second = await rasa_bot.client.respond(sender, no, meta(company))
    next_question = [m for m in second if m.buttons][-1]
    assert next_question.text != first_question

    # The answer is in the diagnosis service, not just in the chat.
    headers = {"Authorization": "Bearer " + _token(rasa_bot.signing_key, company)}
    async with httpx.AsyncClient(base_url=svc.url, timeout=10) as http:
        [summary] = (await http.get("/api/v1/diagnoses", params={"company_id": company}, headers=headers)).json()
        detail = (await http.get(f"/api/v1/diagnoses/{summary['id']}", headers=headers)).json()
    recorded = [a for a in detail["answers"].values() if not a["auto_filled"]]
    assert [a["implemented"] for a in recorded] == [False]

    # はい opens the item pick list; ticking one and finishing records it with the item.
    yes = next(b.payload for b in next_question.buttons if b.title == "はい")
    picklist = [m for m in await rasa_bot.client.respond(sender, yes, meta(company)) if m.buttons][-1]
    titles = [b.title for b in picklist.buttons]
    if titles[-1] == "これで全部":
        item = picklist.buttons[0].payload
        after_pick = [m for m in await rasa_bot.client.respond(sender, item, meta(company)) if m.buttons][-1]
        done = next(b.payload for b in after_pick.buttons if b.title == "これで全部")
        await rasa_bot.client.respond(sender, done, meta(company))
    async with httpx.AsyncClient(base_url=svc.url, timeout=10) as http:
        detail = (await http.get(f"/api/v1/diagnoses/{summary['id']}", headers=headers)).json()
    answered = [a for a in detail["answers"].values() if not a["auto_filled"]]
    assert sorted(a["implemented"] for a in answered) == [False, True]


async def test_every_conversation_event_is_published_to_nats_for_replay(rasa_bot, nc):
    sender = f"r-{uuid.uuid4().hex[:8]}"
    await rasa_bot.client.respond(sender, "こんにちは", meta("c7"))
    await rasa_bot.client.respond(sender, "ありがとうございました", meta("c7"))
    store = EventStore(nc)
    subject = f"helpdesk.{PARTNER}.c7.conversation.{sender}"
    seen: list = []
    for _ in range(50):
        seen = [rec async for rec in store.read("HELPDESK", subject)]
        kinds = [r.envelope.data.event for r in seen]
        if kinds.count("bot") >= 2:
            break
        await asyncio.sleep(0.2)
    assert all(r.envelope.type == "helpdesk.conversation_event" for r in seen)
    assert all(r.envelope.company_id == "c7" and r.envelope.partner_id == PARTNER for r in seen)
    user_texts = [r.envelope.data.payload.get("text") for r in seen if r.envelope.data.event == "user"]
    bot_texts = [r.envelope.data.payload.get("text") for r in seen if r.envelope.data.event == "bot"]
    assert user_texts == ["こんにちは", "ありがとうございました"]
    assert any("お助け隊" in (t or "") for t in bot_texts) and any("どういたしまして" in (t or "") for t in bot_texts)
    # Replay decodes them with the same registry as every other event.
    raw = await nc.jetstream().get_last_msg("HELPDESK", subject)
    assert registry.decode(raw.data).data.conversation_id == sender
