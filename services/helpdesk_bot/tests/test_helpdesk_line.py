"""LINE webhook: signatures, redelivery, linking, reply-then-push, alert cards as Flex messages."""
import asyncio

from helpdesk_testkit import eventually, group_alert, line_event, link_code, post_line, raise_alert

USER = "U" + "a1" * 16


async def test_a_bad_signature_is_refused_and_nothing_is_processed(helpdesk, line_platform, auth_headers):
    code = await link_code(helpdesk.client, auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki"), "gifu-seiki")
    resp = await post_line(helpdesk.client, line_event(USER, text=code), secret="someone-elses-secret")
    assert resp.status_code == 400
    assert "X-Line-Signature" in resp.json()["detail"]
    unsigned = await helpdesk.client.post("/webhooks/line", json={"destination": "x", "events": []})
    assert unsigned.status_code == 400
    await asyncio.sleep(0.3)
    assert line_platform.requests == []
    contacts = await helpdesk.client.get("/api/v1/companies/gifu-seiki/contacts", headers=auth_headers("operator", partner_id="chubu"))
    assert contacts.json() == []


async def test_linking_with_a_one_time_code_and_redelivery_is_ignored(helpdesk, line_platform, auth_headers):
    admin = auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki")
    code = await link_code(helpdesk.client, admin, "gifu-seiki")
    event = line_event(USER, text=code[:4] + "-" + code[4:])
    assert (await post_line(helpdesk.client, event)).status_code == 200
    # LINE redelivers the same webhook event: it must not be handled twice.
    assert (await post_line(helpdesk.client, {**event, "deliveryContext": {"isRedelivery": True}})).status_code == 200
    replies = line_platform.sent("reply")
    assert len(replies) == 1
    assert "gifu-seiki 株式会社の総務 山田様として登録しました" in replies[0]["body"]["messages"][0]["text"]
    assert replies[0]["auth"] == "Bearer test-access-token"
    contacts = (await helpdesk.client.get("/api/v1/companies/gifu-seiki/contacts", headers=admin)).json()
    assert [(c["channel"], c["user_id"], c["display_name"]) for c in contacts] == [("line", USER, "山田 太郎")]
    # The code is single-use: someone else typing it gets a polite refusal.
    other = "U" + "b2" * 16
    await post_line(helpdesk.client, line_event(other, text=code))
    assert "連携コードが正しくない" in line_platform.sent("reply")[-1]["body"]["messages"][0]["text"]
    # Another company's admin cannot list this company's contacts.
    ena = auth_headers("company_admin", partner_id="chubu", company_id="ena-foods")
    assert (await helpdesk.client.get("/api/v1/companies/gifu-seiki/contacts", headers=ena)).status_code == 404


async def test_expired_reply_token_falls_back_to_push_with_a_retry_key(helpdesk, line_platform, auth_headers):
    code = await link_code(helpdesk.client, auth_headers("operator", partner_id="chubu"), "gifu-seiki")
    line_platform.expired_reply_tokens.add("stale-token")
    await post_line(helpdesk.client, line_event(USER, text=code, reply_token="stale-token"))
    pushes = line_platform.sent("push", to=USER)
    assert len(pushes) == 1
    assert pushes[0]["retry_key"]
    assert "登録しました" in pushes[0]["body"]["messages"][0]["text"]


async def test_high_alert_is_pushed_once_as_a_flex_card(helpdesk, line_platform, auth_headers):
    code = await link_code(helpdesk.client, auth_headers("operator", partner_id="chubu"), "gifu-seiki")
    await post_line(helpdesk.client, line_event(USER, text=code))
    store = helpdesk.runtime.store
    alert_id = await raise_alert(store, "chubu", "gifu-seiki", severity="high")
    pushes = await eventually(lambda: _async(line_platform.sent("push", to=USER)))
    flex = pushes[0]["body"]["messages"][0]
    assert flex["type"] == "flex"
    assert "不審な外部サーバーとの通信" in flex["altText"]
    bubble = flex["contents"]
    labels = [b["action"]["label"] for b in bubble["footer"]["contents"]]
    assert labels == ["詳しく", "対応を依頼", "問題ない"]
    assert "LANケーブル" in str(bubble["body"])
    # Repeats folded into the same alert do not notify again; nor do learning-period or low alerts.
    await group_alert(store, "chubu", "gifu-seiki", alert_id, 5)
    await raise_alert(store, "chubu", "gifu-seiki", severity="critical", learning=True)
    await raise_alert(store, "chubu", "gifu-seiki", severity="low")
    # An alert of another company never reaches this contact.
    await raise_alert(store, "chubu", "ena-foods", severity="critical")
    await helpdesk.runtime.runner("helpdesk_bot.alert_pusher").wait_for(
        (await store.js.stream_info("TELEMETRY")).state.last_seq)
    assert len(line_platform.sent("push", to=USER)) == 1

    # 「問題ない」 on the card is recorded and answered.
    await post_line(helpdesk.client, line_event(USER, postback=f"alert:no_problem:{alert_id}"))
    assert "問題ない" in line_platform.sent("reply")[-1]["body"]["messages"][0]["text"]
    notice = await helpdesk.runtime.pool.fetchrow("SELECT answer FROM alert_notices WHERE alert_id=$1", alert_id)
    assert notice["answer"] == "no_problem"


async def _async(value):
    return value


async def test_a_link_from_the_bot_is_a_button_in_line_and_plain_text_when_it_cannot_be_opened(line_platform):
    from otasuke.helpdesk_bot.adapters.line import LineChannel
    from otasuke.helpdesk_bot.nlu import BotMessage

    def link(url: str) -> BotMessage:
        return BotMessage(text=f"診断レポート\n{url}", custom={"type": "link", "title": "診断レポート", "url": url})

    channel = LineChannel(access_token="test-access-token", api_base=line_platform.url)
    try:
        await channel.send(USER, [link("https://otasuke.example.jp/report/r1?t=abc")], reply_token="t1")
        await channel.send(USER, [link(f"{line_platform.url}/report/r2")], reply_token="t2")  # http on this machine
        await channel.send(USER, [link("http://intranet.example/report/r3")], reply_token="t3")
    finally:
        await channel.close()
    first, local, plain = [r["body"]["messages"][0] for r in line_platform.sent("reply")]
    assert first["type"] == "flex" and "診断レポート" in first["altText"]
    [button] = first["contents"]["footer"]["contents"]
    assert button["action"] == {"type": "uri", "label": "開く", "uri": "https://otasuke.example.jp/report/r1?t=abc"}
    assert local["contents"]["footer"]["contents"][0]["action"]["uri"] == f"{line_platform.url}/report/r2"
    # Plain http elsewhere is not offered as a button: the user still gets the address as text.
    assert plain == {"type": "text", "text": "診断レポート\nhttp://intranet.example/report/r3"}
