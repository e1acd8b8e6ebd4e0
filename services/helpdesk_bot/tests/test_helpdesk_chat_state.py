"""What the chat remembers between turns survives a restart, and the transcript shows what the user tapped.

The bot here is a local stand-in for Rasa's REST channel that never understands
(like the LINE stand-in, it answers in the documented shape); the help desk's own
counting is what is under test.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web

from otasuke.platform.embedded import free_port
from otasuke.platform.service import create_app, load_spec

from otasuke.events import EventStore

from helpdesk_testkit import CHANNEL_SECRET, eventually, line_event, link_code, post_line, raise_alert

PARTNER = "chubu"
LINE_ENV = {"OTASUKE_LINE_CHANNEL_SECRET": CHANNEL_SECRET, "OTASUKE_LINE_CHANNEL_ACCESS_TOKEN": "test-access-token",
            "OTASUKE_LINE_API_BASE": "{line}", "OTASUKE_LINE_PARTNER_ID": PARTNER}
CLARIFY = "すみません、ご用件を確認させてください。次のうち近いものはありますか。"


@pytest.fixture
async def puzzled_bot(monkeypatch):
    """Rasa's REST webhook, answering every message with a clarifying question (a miss)."""
    async def webhook(request: web.Request):
        body = await request.json()
        return web.json_response([
            {"recipient_id": body["sender"], "text": CLARIFY, "buttons": [{"title": "担当者と話したい", "payload": "/human_handoff"}]},
            {"recipient_id": body["sender"], "custom": {"type": "fallback"}},
        ])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("OTASUKE_RASA_URL", f"http://127.0.0.1:{port}")
    yield
    await runner.cleanup()


@asynccontextmanager
async def helpdesk_process(settings):
    """The help desk on a fresh port, stopped on exit: a restart is two of these in a row."""
    import uvicorn

    s = settings.with_(ports={**settings.ports, "helpdesk_bot": free_port()})
    app = create_app(load_spec("helpdesk_bot"), s)
    server = uvicorn.Server(uvicorn.Config(app, host=s.host, port=s.port("helpdesk_bot"), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    try:
        async with httpx.AsyncClient(base_url=s.url("helpdesk_bot"), timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def texts_to(line_platform, user: str) -> list[str]:
    return [m.get("text") or m.get("altText") for r in line_platform.requests if r["kind"] in ("reply", "push")
            and (r["body"].get("to") == user or r["kind"] == "reply") for m in r["body"]["messages"]]


async def test_two_misses_and_wrong_link_codes_are_counted_across_a_restart(
        settings, nc, line_platform, puzzled_bot, monkeypatch, auth_headers):
    monkeypatch.setenv("OTASUKE_HELPDESK_LINK_ATTEMPTS", "3")
    for name, value in LINE_ENV.items():
        monkeypatch.setenv(name, value.replace("{line}", line_platform.url))
    op = auth_headers("operator", partner_id=PARTNER)
    linked, guesser = "U" + "a1" * 16, "U" + "b2" * 16

    async with helpdesk_process(settings) as desk:
        for company in ("gifu-seiki", "ena-foods"):
            resp = await desk.post("/api/v1/companies", headers=op, json={
                "company_id": company, "name": f"{company} 株式会社", "industry": "manufacturing",
                "employees": 20, "prefecture": "岐阜県"})
            assert resp.status_code == 201, resp.text
        code = await link_code(desk, op, "gifu-seiki")
        await post_line(desk, line_event(linked, text=code))
        await post_line(desk, line_event(linked, text="ほにゃらら"))
        assert line_platform.texts()[-1] == CLARIFY
        assert (await desk.get("/api/v1/tickets", headers=op)).json() == []  # one miss: the bot asks, no ticket
        for wrong in ("11112222", "33334444"):
            await post_line(desk, line_event(guesser, text=wrong))
            assert "連携コードが正しくない" in line_platform.texts()[-1]

    async with helpdesk_process(settings) as desk:
        # The second miss in a row, after the restart, hands the chat over.
        await post_line(desk, line_event(linked, text="ふがふが"))
        assert "担当者におつなぎします" in line_platform.texts()[-1]
        [ticket] = (await desk.get("/api/v1/tickets", headers=op)).json()
        assert ticket["source"] == "bot_failed" and ticket["company_id"] == "gifu-seiki"

        # The third wrong code locks the guesser out; even a valid code is refused while locked.
        await post_line(desk, line_event(guesser, text="55556666"))
        assert "受け付けを停止" in line_platform.texts()[-1]
        valid = await link_code(desk, op, "ena-foods")
        await post_line(desk, line_event(guesser, text=valid))
        assert "受け付けを停止" in line_platform.texts()[-1]
        assert (await desk.get("/api/v1/companies/ena-foods/contacts", headers=op)).json() == []

        # Someone else is not affected by that lock.
        await post_line(desk, line_event("U" + "c3" * 16, text=valid))
        assert "様として登録しました" in line_platform.texts()[-1]

    # The lock is an event on the help desk stream, for the operators to see.
    store = EventStore(nc)
    locks = [r.data async for r in store.read("HELPDESK", f"helpdesk.{PARTNER}._.link_guard.>")
             if r.envelope.type == "helpdesk.link_locked"]
    assert [(x.conversation_id, x.failures) for x in locks] == [(f"line-{guesser}", 3)]


async def test_button_taps_are_shown_in_the_history_as_the_user_saw_them(helpdesk, line_platform, auth_headers):
    user = "U" + "d4" * 16
    code = await link_code(helpdesk.client, auth_headers("operator", partner_id=PARTNER), "gifu-seiki")
    await post_line(helpdesk.client, line_event(user, text=code))
    alert_id = await raise_alert(helpdesk.runtime.store, PARTNER, "gifu-seiki", severity="high")
    async def card_pushed():
        return line_platform.sent("push", to=user)

    await eventually(card_pushed)

    # LINE postbacks carry only the data; the user saw and tapped 詳しく, then 対応を依頼.
    await post_line(helpdesk.client, line_event(user, postback=f"alert:details:{alert_id}"))
    await post_line(helpdesk.client, line_event(user, postback=f"alert:request_help:{alert_id}"))
    op = auth_headers("operator", partner_id=PARTNER)
    [ticket] = (await helpdesk.client.get("/api/v1/tickets", headers=op)).json()
    detail = (await helpdesk.client.get(f"/api/v1/tickets/{ticket['ticket_id']}", headers=op)).json()
    tapped = [m["text"] for m in detail["transcript"] if m["sender"] == "customer"]
    assert tapped[-2:] == ["詳しく", "対応を依頼"]
    assert not any(t.startswith(("alert:", "/", "bot:")) for t in tapped)
