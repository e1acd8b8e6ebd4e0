"""Hand-over to humans: tickets from alert cards and escalation, the operator's actions, tenant isolation."""
from helpdesk_testkit import eventually, line_event, link_code, post_line, raise_alert

USER = "U" + "c3" * 16


async def _linked(helpdesk, line_platform, auth_headers, company="gifu-seiki", user=USER):
    code = await link_code(helpdesk.client, auth_headers("operator", partner_id="chubu"), company)
    await post_line(helpdesk.client, line_event(user, text=code))


async def _events(store, subject_filter):
    stream = (await store.js.stream_info("HELPDESK")).config.name
    return [r.envelope.type async for r in store.read(stream, subject_filter)]


async def test_asking_for_help_on_an_alert_card_moves_the_chat_to_an_operator(helpdesk, line_platform, auth_headers):
    await _linked(helpdesk, line_platform, auth_headers)
    alert_id = await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="high")
    await eventually(lambda: _v(line_platform.sent("push", to=USER)))

    await post_line(helpdesk.client, line_event(USER, postback=f"alert:request_help:{alert_id}"))
    assert "担当者におつなぎします" in line_platform.texts()[-1]
    op = auth_headers("operator", partner_id="chubu")
    tickets = (await helpdesk.client.get("/api/v1/tickets", headers=op)).json()
    assert len(tickets) == 1 and tickets[0]["source"] == "alert" and tickets[0]["alert_id"] == alert_id
    ticket_id = tickets[0]["ticket_id"]

    # While the operator has it, the bot does not answer; the customer is told to wait.
    await post_line(helpdesk.client, line_event(USER, text="まだですか？"))
    assert "担当者からの返事をお待ちください" in line_platform.texts()[-1]

    detail = (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=op)).json()
    senders = [m["sender"] for m in detail["transcript"]]
    assert "customer" in senders and "system" in senders
    assert "まだですか？" in [m["text"] for m in detail["transcript"]]
    assert detail["company"]["company"]["name"] == "gifu-seiki 株式会社"
    assert [a["alert_id"] for a in detail["company"]["open_alerts"]] == [alert_id]

    # The operator answers in the same chat (a push with a retry key), sends an engineer, closes.
    reply = await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/replies", headers=op,
                                       json={"text": "LANケーブルは抜けましたか？"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "in_progress"
    assert reply.json()["first_response_at"] is not None
    last_push = line_platform.sent("push", to=USER)[-1]
    assert last_push["body"]["messages"][0]["text"] == "LANケーブルは抜けましたか？" and last_push["retry_key"]
    await post_line(helpdesk.client, line_event(USER, text="抜きました"))
    assert line_platform.texts()[-1] == "LANケーブルは抜けましたか？"  # silent: no bot, no waiting notice

    assert (await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/dispatch", headers=op, json={"reason": ""})).status_code == 422
    d = await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/dispatch", headers=op, json={"reason": "PCの調査"})
    assert d.json()["status"] == "dispatched"
    assert "技術者がお伺いする" in line_platform.texts()[-1]
    closed = await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/close", headers=op,
                                        json={"resolution": "感染なし。ケーブルを戻しました。"})
    assert closed.json()["status"] == "closed"
    assert "対応を終了しました" in line_platform.texts()[-1]
    assert (await helpdesk.client.get("/api/v1/tickets", headers=op)).json() == []

    types = await _events(helpdesk.runtime.store, f"helpdesk.chubu.gifu-seiki.ticket.{ticket_id}")
    assert types == ["helpdesk.ticket_opened", "helpdesk.ticket_status_changed", "helpdesk.operator_replied",
                     "helpdesk.dispatch_requested", "helpdesk.ticket_status_changed", "helpdesk.ticket_closed"]
    timeline = (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=op)).json()["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "status", "reply", "dispatch", "status", "closed"]
    assert all(e["at"] for e in timeline)


async def test_operators_and_companies_only_see_their_own_tickets(helpdesk, line_platform, auth_headers):
    await _linked(helpdesk, line_platform, auth_headers)
    alert_id = await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="critical")
    await eventually(lambda: _v(line_platform.sent("push", to=USER)))
    await post_line(helpdesk.client, line_event(USER, postback=f"alert:request_help:{alert_id}"))
    chubu = auth_headers("operator", partner_id="chubu")
    kansai = auth_headers("operator", partner_id="kansai")
    ticket_id = (await helpdesk.client.get("/api/v1/tickets", headers=chubu)).json()[0]["ticket_id"]

    assert (await helpdesk.client.get("/api/v1/tickets", headers=kansai)).json() == []
    assert (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=kansai)).status_code == 404
    assert (await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/replies", headers=kansai,
                                       json={"text": "x"})).status_code == 404
    ena = auth_headers("company_admin", partner_id="chubu", company_id="ena-foods")
    assert (await helpdesk.client.get("/api/v1/tickets", headers=ena)).json() == []
    assert (await helpdesk.client.get(f"/api/v1/tickets/{ticket_id}", headers=ena)).status_code == 404
    gifu = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    assert [t["ticket_id"] for t in (await helpdesk.client.get("/api/v1/tickets", headers=gifu)).json()] == [ticket_id]
    # A company admin may read its ticket but not act as an operator.
    assert (await helpdesk.client.post(f"/api/v1/tickets/{ticket_id}/close", headers=gifu,
                                       json={"resolution": "x"})).status_code == 403
    # A forged alert button for another company's alert is ignored.
    other_alert = await raise_alert(helpdesk.runtime.store, "chubu", "ena-foods", severity="high")
    before = len((await helpdesk.client.get("/api/v1/tickets", headers=chubu)).json())
    await post_line(helpdesk.client, line_event(USER, postback=f"alert:details:{other_alert}"))
    assert all("ena-foods" not in t and "攻撃者" not in t for t in line_platform.texts()[-1:])
    assert len((await helpdesk.client.get("/api/v1/tickets", headers=chubu)).json()) == before


async def test_an_unacknowledged_critical_alert_escalates_to_an_operator(helpdesk, line_platform, auth_headers):
    await _linked(helpdesk, line_platform, auth_headers)
    op = auth_headers("operator", partner_id="chubu")
    prefs = await helpdesk.client.put("/api/v1/companies/gifu-seiki/notification-preferences", headers=op,
                                      json={"min_severity": "high", "escalate_after_minutes": 0.01})
    assert prefs.status_code == 200, prefs.text
    alert_id = await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="critical")
    tickets = await eventually(lambda: _get(helpdesk, "/api/v1/tickets", op), timeout=15)
    assert tickets[0]["alert_id"] == alert_id and tickets[0]["source"] == "alert"
    await eventually(lambda: _v(any("担当者に引き継ぎました" in (t or "") for t in line_platform.texts())))
    notice = await helpdesk.runtime.pool.fetchrow("SELECT escalated_ticket_id FROM alert_notices WHERE alert_id=$1", alert_id)
    assert notice["escalated_ticket_id"] == tickets[0]["ticket_id"]
    types = await _events(helpdesk.runtime.store, f"helpdesk.chubu.gifu-seiki.alert_notice.{alert_id}")
    assert types == ["helpdesk.alert_notice_sent", "helpdesk.alert_escalated_to_operator"]


async def test_quiet_hours_hold_a_high_alert_until_they_end(helpdesk, line_platform, auth_headers):
    await _linked(helpdesk, line_platform, auth_headers)
    op = auth_headers("operator", partner_id="chubu")
    url = "/api/v1/companies/gifu-seiki/notification-preferences"
    bad = await helpdesk.client.put(url, headers=op, json={"quiet_start": "25:00", "quiet_end": "07:00"})
    assert bad.status_code == 400 and "HH:MM" in bad.text
    # Quiet all day long (00:00 to 23:59), so "now" is always quiet.
    await helpdesk.client.put(url, headers=op, json={"quiet_start": "00:00", "quiet_end": "23:59"})
    await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="high")
    store = helpdesk.runtime.store
    await helpdesk.runtime.runner("helpdesk_bot.alert_pusher").wait_for((await store.js.stream_info("TELEMETRY")).state.last_seq)
    import asyncio
    await asyncio.sleep(1.0)  # several scheduler ticks
    assert line_platform.sent("push", to=USER) == []
    await helpdesk.client.put(url, headers=op, json={"quiet_start": None, "quiet_end": None})
    pushes = await eventually(lambda: _v(line_platform.sent("push", to=USER)))
    assert pushes[0]["body"]["messages"][0]["type"] == "flex"


async def _v(value):
    return value


async def _get(helpdesk, path, headers):
    return (await helpdesk.client.get(path, headers=headers)).json()
