"""LINE redelivery: a turn that failed half-way is processed again, once; a completed one is ignored.

The failure is real: the LINE platform answers 500 to the reply and to every push of the turn,
so the webhook cannot deliver the answer and asks LINE (by a 500) to redeliver the event.
"""
from helpdesk_testkit import line_event, link_code, post_line

USER = "U" + "c3" * 16
PUSH_ATTEMPTS_AND_REPLY = 4  # one reply, then three pushes with the same retry key


async def _transcript(helpdesk) -> list[str]:
    last = (await helpdesk.runtime.store.js.stream_info("HELPDESK")).state.last_seq
    await helpdesk.runtime.wait_for("helpdesk_bot.helpdesk", last)
    rows = await helpdesk.runtime.pool.fetch(
        "SELECT text FROM transcript WHERE conversation_id=$1 ORDER BY seq", f"line-{USER}")
    return [r["text"] for r in rows]


async def test_a_link_code_whose_answer_failed_is_answered_once_when_line_redelivers(helpdesk, line_platform, auth_headers):
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    code = await link_code(helpdesk.client, admin, "gifu-seiki")
    event = line_event(USER, text=code)

    line_platform.failing = PUSH_ATTEMPTS_AND_REPLY
    first = await post_line(helpdesk.client, event)
    assert first.status_code == 500  # LINE redelivers on a non-2xx answer
    assert line_platform.delivered(USER) == []

    again = await post_line(helpdesk.client, {**event, "deliveryContext": {"isRedelivery": True}})
    assert again.status_code == 200
    [answer] = line_platform.delivered(USER)
    assert "gifu-seiki 株式会社の総務 山田様として登録しました" in answer["body"]["messages"][0]["text"]
    assert (await _transcript(helpdesk)).count(code) == 1
    contacts = (await helpdesk.client.get("/api/v1/companies/gifu-seiki/contacts", headers=admin)).json()
    assert [(c["channel"], c["user_id"]) for c in contacts] == [("line", USER)]

    # A redelivery of the completed event is acknowledged and ignored.
    assert (await post_line(helpdesk.client, {**event, "deliveryContext": {"isRedelivery": True}})).status_code == 200
    assert len(line_platform.delivered(USER)) == 1


async def test_a_chat_turn_that_failed_half_way_opens_one_ticket_and_keeps_the_message_once(
        helpdesk, line_platform, auth_headers):
    code = await link_code(helpdesk.client, auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki"),
                           "gifu-seiki")
    assert (await post_line(helpdesk.client, line_event(USER, text=code))).status_code == 200
    before = len(line_platform.delivered(USER))

    # No bot runs in this test: the turn hands over to a person, then the answer cannot be sent.
    event = line_event(USER, text="パソコンが急に動かなくなりました")
    line_platform.failing = PUSH_ATTEMPTS_AND_REPLY
    assert (await post_line(helpdesk.client, event)).status_code == 500
    assert (await post_line(helpdesk.client, {**event, "deliveryContext": {"isRedelivery": True}})).status_code == 200

    answers = line_platform.delivered(USER)[before:]
    assert len(answers) == 1
    assert "担当者" in answers[0]["body"]["messages"][-1]["text"]
    op = auth_headers("operator", partner_id="chubu")
    tickets = (await helpdesk.client.get("/api/v1/tickets", headers=op)).json()
    assert len(tickets) == 1
    detail = (await helpdesk.client.get(f"/api/v1/tickets/{tickets[0]['ticket_id']}", headers=op)).json()
    said = [m["text"] for m in detail["transcript"] if m["sender"] == "customer"]
    assert said.count("パソコンが急に動かなくなりました") == 1
    assert (await _transcript(helpdesk)).count("パソコンが急に動かなくなりました") == 1
