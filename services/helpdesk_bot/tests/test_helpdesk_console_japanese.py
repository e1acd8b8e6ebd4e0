"""The operator console in Japanese: labels, statuses, timeline, customer context and JST dates (Chromium)."""
import re
from datetime import datetime
from typing import get_args, get_type_hints

from helpdesk_console_kit import operator_with_password, sign_in
from helpdesk_testkit import eventually, raise_alert

from otasuke.events import AggregateRef, Tenant
from otasuke.events.schemas.diagnosis import DiagnosisCompleted
from otasuke.events.schemas.enrolment import ApplicationStatus, Service
from otasuke.events.schemas.helpdesk import ChatChannel, ChatMessage, TicketSource
from otasuke.events.schemas.telemetry import Severity
from otasuke.helpdesk_bot.application import tickets
from otasuke.helpdesk_bot.domain.business_hours import JST
from otasuke.helpdesk_bot.domain.console_labels import CONSOLE_LABELS
from otasuke.helpdesk_bot.domain.ticket import STATUSES

# What the console said before it was Japanese, and codes that must not reach the screen.
ENGLISH_UI = ("Tickets", "Select a ticket", "Send reply", "Request", "Close ticket", "Timeline", "Status", "source",
              "Reply to the customer", "Resolution", "Services", "Open alerts", "Last diagnosis", "No company",
              "Application", "Link-code", "Lift", "locked", "wrong codes", "No open tickets", "none")
CODES = ("open", "in_progress", "user_request", "opened", "reply", "web", "utm", "high", "fair", "manufacturing",
         "active", "provisional")


def jst(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(JST).strftime("%Y/%m/%d %H:%M")


async def test_the_console_shows_a_ticket_with_its_timeline_in_japanese(helpdesk, browser, auth_headers):
    c, op = helpdesk.client, auth_headers("operator", partner_id="chubu")
    # A customer's request from the web chat, with the company's context: an alert, a service in use, a diagnosis.
    ticket_id = await tickets.open_ticket(helpdesk.runtime, Tenant("chubu", "gifu-seiki"), source="user_request",
                                          summary="ルーターのランプが赤く点滅しています", conversation_id=None,
                                          channel="web", actor="web-" + "a1" * 8)
    await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="high")
    app_id = (await c.post("/api/v1/applications", headers=op, json={
        "company_id": "gifu-seiki", "service": "utm", "channel": "phone"})).json()["application_id"]
    assert (await c.post(f"/api/v1/applications/{app_id}/status", headers=op, json={"status": "active"})).status_code == 200
    await helpdesk.runtime.store.append(
        AggregateRef("diagnosis", Tenant("chubu", "gifu-seiki"), "diagnosis", "d-console-ja"),
        [DiagnosisCompleted(diagnosis_id="d-console-ja", questionnaire_version="2025.1", industry="manufacturing",
                            score=620, band="fair")], expected_seq=0)

    async def context_ready():
        co = (await c.get(f"/api/v1/tickets/{ticket_id}", headers=op)).json()["company"]
        return co["services"] and co["open_alerts"] and co["last_diagnosis"]
    await eventually(context_ready)
    ticket = (await c.get(f"/api/v1/tickets/{ticket_id}", headers=op)).json()

    suzuki = await operator_with_password(helpdesk, auth_headers, "chubu", "suzuki-ja@chubu.example", "鈴木 一郎")
    page = await browser.new_page()
    await sign_in(page, helpdesk.url, suzuki.email, suzuki.password)
    assert await page.title() == "チケット一覧｜お助け隊 オペレーター画面"
    row = await page.wait_for_selector(f".ticket[data-id='{ticket_id}'][data-status='open']")
    assert "［未対応］" in await row.inner_text()
    assert f"初回応答期限 {jst(ticket['sla']['first_response_due'])}" in await row.inner_text()
    application = await page.wait_for_selector(f".application[data-id='{app_id}'][data-status='active']")
    assert "gifu-seiki 株式会社 UTM（ネットワーク監視機器）：利用中" in await application.inner_text()
    assert "一覧からチケットを選んでください。" in await page.inner_text("#detail")

    await row.click()
    await page.wait_for_selector("#status[data-status='open']")
    assert await page.inner_text("#status") == "未対応"
    assert await page.inner_text("#source") == "お客様からの依頼"
    assert await page.inner_text("#channel") == "Webチャット"
    context = await page.inner_text("#context")
    assert "製造業・20名・岐阜県" in context
    assert await page.inner_text("#services") == "UTM（ネットワーク監視機器）"
    assert "［重要度：高］不審な外部サーバーとの通信（PC-経理01）" in await page.inner_text("#alerts")
    assert await page.inner_text("#diagnosis") == "620 / 1000点（まずまず）"
    opened = ticket["timeline"][0]["at"]
    assert await page.inner_text("#timeline .event[data-kind='opened']") == \
        f"{jst(opened)}　受付　お客様（Webチャット）：ルーターのランプが赤く点滅しています"

    # An empty action is explained in Japanese and sends nothing.
    await page.click("#dispatch")
    assert await page.inner_text("#action-error") == "駆けつけが必要な理由を入力してください。"

    await page.fill("#reply", "担当の鈴木です。再起動をお試しください。")
    await page.click("#send")
    await page.wait_for_selector("#status[data-status='in_progress']")
    assert await page.inner_text("#status") == "対応中"
    timeline = await page.inner_text("#timeline")
    assert "状態を「対応中」に変更　鈴木 一郎" in timeline
    assert "返信　鈴木 一郎：担当の鈴木です。再起動をお試しください。" in timeline
    lines = timeline.splitlines()
    assert len(lines) == 3 and all(re.match(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}　", line) for line in lines)
    await page.wait_for_selector(f".ticket[data-id='{ticket_id}'][data-status='in_progress']")

    shown = await page.inner_text("body")
    assert [w for w in ENGLISH_UI if w in shown] == []
    assert [code for code in CODES if re.search(rf"(?<![A-Za-z_-]){code}(?![A-Za-z_-])", shown)] == []
    assert not await page.is_visible("#session-error")


def test_every_code_the_console_shows_has_a_japanese_label():
    sender = get_args(get_type_hints(ChatMessage)["sender"]) + ("operator",)  # operator replies join the transcript
    expected = {"ticket_status": STATUSES, "source": get_args(TicketSource), "channel": get_args(ChatChannel),
                "sender": sender, "severity": get_args(Severity), "service": get_args(Service),
                "application_status": get_args(ApplicationStatus),
                "timeline": ("opened", "status", "reply", "dispatch", "closed")}
    for group, codes in expected.items():
        labels = CONSOLE_LABELS[group]
        missing = [code for code in codes if not labels.get(code)]
        assert missing == [], f"{group}: no Japanese label for {missing}"
        assert all(re.search(r"[ぁ-んァ-ヶ一-龠]", labels[code]) or labels[code] in ("LINE",) for code in codes), group
