"""Delivery into the chat when things go wrong: a LINE push that fails is retried with the same
X-Line-Retry-Key (the user gets it once), and reading an alert's details does not count as acting on it.
"""
from __future__ import annotations

from aiohttp import web

from otasuke.platform.embedded import free_port

from helpdesk_testkit import eventually, line_event, link_code, post_line, raise_alert, start_helpdesk

PARTNER = "chubu"


class FlakyLine:
    """The LINE Messaging API, whose push endpoint fails once with a 500 before it works."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, dict]] = []
        self.accepted: dict[str, dict] = {}
        self.fail_next_push = False

    async def reply(self, request: web.Request):
        body = await request.json()
        return web.json_response({"sentMessages": [{"id": "1", "quoteToken": "q"} for _ in body["messages"]]})

    async def push(self, request: web.Request):
        body, key = await request.json(), request.headers.get("X-Line-Retry-Key")
        self.pushes.append((key, body))
        if self.fail_next_push:
            self.fail_next_push = False
            return web.json_response({"message": "An error occurred in the backend"}, status=500)
        if key in self.accepted:
            return web.json_response({"message": "The retry key is already accepted"}, status=409)
        self.accepted[key] = body
        return web.json_response({"sentMessages": [{"id": "1", "quoteToken": "q"} for _ in body["messages"]]})

    async def profile(self, request: web.Request):
        return web.json_response({"userId": request.match_info["user_id"], "displayName": "山田 太郎"})


async def test_a_failed_push_is_retried_with_the_same_retry_key_and_arrives_once(
        start_service, monkeypatch, auth_headers):
    line = FlakyLine()
    app = web.Application()
    app.router.add_post("/v2/bot/message/reply", line.reply)
    app.router.add_post("/v2/bot/message/push", line.push)
    app.router.add_get("/v2/bot/profile/{user_id}", line.profile)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        desk = await start_helpdesk(start_service, monkeypatch, auth_headers, f"http://127.0.0.1:{port}")
        user = "U" + "e5" * 16
        op = auth_headers("operator", partner_id=PARTNER)
        await post_line(desk.client, line_event(user, text=await link_code(desk.client, op, "gifu-seiki")))
        await post_line(desk.client, line_event(user, postback="alert:request_help:nothing"))  # forged: ignored
        alert_id = await raise_alert(desk.runtime.store, PARTNER, "gifu-seiki", severity="high")
        await eventually(lambda: _v(line.accepted))
        await post_line(desk.client, line_event(user, postback=f"alert:request_help:{alert_id}"))
        [ticket] = (await desk.client.get("/api/v1/tickets", headers=op)).json()

        line.fail_next_push = True
        sent = await desk.client.post(f"/api/v1/tickets/{ticket['ticket_id']}/replies", headers=op,
                                      json={"text": "担当の鈴木です。状況を教えてください。"})
        assert sent.status_code == 201, sent.text
        tries = [(k, b) for k, b in line.pushes if b["messages"][0].get("text") == "担当の鈴木です。状況を教えてください。"]
        assert len(tries) == 2 and tries[0][0] == tries[1][0]  # the failed push and its retry, same key
        delivered = [b for b in line.accepted.values() if b["messages"][0].get("text") == "担当の鈴木です。状況を教えてください。"]
        assert len(delivered) == 1 and delivered[0]["to"] == user
        await desk.client.aclose()
    finally:
        await runner.cleanup()


async def test_a_critical_alert_whose_details_were_read_still_escalates(helpdesk, line_platform, auth_headers):
    user = "U" + "f6" * 16
    op = auth_headers("operator", partner_id=PARTNER)
    await post_line(helpdesk.client, line_event(user, text=await link_code(helpdesk.client, op, "gifu-seiki")))
    prefs = await helpdesk.client.put("/api/v1/companies/gifu-seiki/notification-preferences", headers=op,
                                      json={"min_severity": "high", "escalate_after_minutes": 0.05})
    assert prefs.status_code == 200, prefs.text
    alert_id = await raise_alert(helpdesk.runtime.store, PARTNER, "gifu-seiki", severity="critical")
    await eventually(lambda: _v(line_platform.sent("push", to=user)))

    # The owner only reads the details and does nothing: after the set time (here three seconds) an operator has it.
    await post_line(helpdesk.client, line_event(user, postback=f"alert:details:{alert_id}"))
    assert "今すぐしてほしいこと" in line_platform.texts()[-1]

    async def tickets():
        return (await helpdesk.client.get("/api/v1/tickets", headers=op)).json()
    [ticket] = await eventually(tickets, timeout=20)
    assert ticket["alert_id"] == alert_id and ticket["source"] == "alert"
    assert ticket["summary"].startswith("未確認の緊急アラート")
    await eventually(lambda: _v(any("担当者に引き継ぎました" in (t or "") for t in line_platform.texts())))


async def _v(value):
    return value
