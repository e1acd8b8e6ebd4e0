"""Hand-over, clarification on low confidence, and the generic yes/no handling."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .replies import HANDOFF_BUTTON, handoff, last_user_text

# How each intent is offered when the bot is unsure (button title, payload).
INTENT_CHOICES = {
    "alert_explain": "アラートの意味を知りたい",
    "alert_what_to_do": "アラートへの対応方法を知りたい",
    "alert_false_positive": "誤検知だと思う",
    "report_incident": "被害・感染を報告したい",
    "network_trouble": "ネットやシステムにつながらない",
    "whitelist_request": "通信の除外・許可を頼みたい",
    "blocked_mail": "メールが届かない・止められた",
    "report_help": "月次報告書の読み方",
    "device_count": "監視している台数のこと",
    "diagnosis_start": "セキュリティ診断を受けたい",
    "diagnosis_result": "診断結果を知りたい",
    "training_info": "メール訓練のこと",
    "insurance_info": "保険のこと",
    "human_handoff": "担当者と話したい",
    "dispatch_request": "駆けつけ（訪問）を頼みたい",
    "apply_service": "サービスを申し込みたい",
    "application_status": "申込み・工事の状況",
}
FALLBACK_LIMIT = 2

HANDOFF_TEXT = {
    "user_request": "担当者にお引き継ぎします。このままこのチャットでお待ちください。担当者からこちらに返信します。",
    "incident_report": "大変でしたね。すぐに担当者にお引き継ぎします。被害を広げないため、該当のパソコンはLANケーブルを抜くかWi-Fiを切り、電源は切らずにそのままにしてください。",
    "dispatch_request": "駆けつけ（訪問）のご依頼を担当者にお引き継ぎします。日程はこのチャットでご相談します。",
    "bot_failed": "うまくお答えできず申し訳ありません。担当者にお引き継ぎします。このままお待ちください。",
}


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = {"report_incident": "incident_report", "dispatch_request": "dispatch_request"}.get(intent, "user_request")
        extra = {"alert_id": tracker.get_slot("alert_id")} if tracker.get_slot("alert_id") else {}
        handoff(dispatcher, reason, last_user_text(tracker.events), HANDOFF_TEXT[reason], **extra)
        return [SlotSet("fallback_count", 0), SlotSet("pending_offer", None)]


def misses_in_a_row(events: List[Dict[Text, Any]]) -> int:
    """User turns at the end of the conversation that the NLU could not place, the latest included."""
    misses = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != "nlu_fallback":
            break
        misses += 1
    return misses


class ActionClarify(Action):
    """Low NLU confidence: ask with buttons; after the second miss, hand over."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        # Misses in a row, read from the conversation itself: an answered turn in between starts again
        # (the slot alone never reset after a good answer, so two misses an hour apart handed over).
        failures = max(1, misses_in_a_row(tracker.events))
        if failures >= FALLBACK_LIMIT:
            handoff(dispatcher, "bot_failed", last_user_text(tracker.events), HANDOFF_TEXT["bot_failed"])
            return [SlotSet("fallback_count", 0), SlotSet("pending_offer", None)]
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [r["name"] for r in ranking if r.get("name") in INTENT_CHOICES][:3]
        for default in ("human_handoff",):
            if default not in candidates:
                candidates.append(default)
        buttons = [{"title": INTENT_CHOICES[name], "payload": f"/{name}"} for name in candidates]
        dispatcher.utter_message(text="すみません、ご用件を確認させてください。次のうち近いものはありますか。", buttons=buttons)
        return [SlotSet("fallback_count", failures)]


class ActionAffirmDeny(Action):
    """はい／いいえ: an answer to the diagnosis question or to the last offer, else ask what they need."""

    def name(self) -> Text:
        return "action_affirm_deny"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from .diagnosis import answer_question

        if tracker.get_slot("diagnosis_id") and tracker.get_slot("diag_question"):
            return await answer_question(dispatcher, tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        offer = tracker.get_slot("pending_offer")
        if offer == "handoff" and intent == "affirm":
            handoff(dispatcher, "user_request", last_user_text(tracker.events), HANDOFF_TEXT["user_request"])
            return [SlotSet("pending_offer", None), SlotSet("fallback_count", 0)]
        if intent == "deny":
            dispatcher.utter_message(text="承知しました。ほかにご用件があればお知らせください。")
        else:
            dispatcher.utter_message(text="はい、ご用件をどうぞ。アラートのこと、診断、申込みの状況などをお尋ねください。")
        return [SlotSet("pending_offer", None)]


class ActionWhitelistRequest(Action):
    """Allow-listing changes security settings: an operator does it, with the IPs/domains we extracted."""

    def name(self) -> Text:
        return "action_whitelist_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        targets = [e["value"] for e in tracker.latest_message.get("entities") or [] if e.get("entity") in ("ip_address", "domain")]
        if not targets:
            dispatcher.utter_message(
                text="除外（許可）したい通信先のIPアドレスまたはドメイン名（例：192.168.1.20、example.co.jp）と、業務で使う理由を送ってください。",
                buttons=[HANDOFF_BUTTON],
            )
            return []
        listed = "、".join(targets)
        handoff(
            dispatcher,
            "whitelist_request",
            f"除外依頼: {listed} / {last_user_text(tracker.events)}",
            f"{listed} の除外（許可）のご依頼を承りました。安全のため担当者が確認してから設定します。設定が終わりましたらこのチャットでお知らせします。",
            targets=targets,
        )
        return []


SERVICE_LABELS = {
    "utm": "UTM（ネットワークの見張り番）",
    "edr": "EDR（パソコンの見張り番）",
    "phishing_training": "標的型メール訓練",
    "diagnosis": "セキュリティ診断",
    "insurance_top_up": "保険の上乗せ",
}


FORM_LINK_TITLE = "申込フォームを開く（現地調査のご希望日やご連絡先も入力できます・2時間有効）"


async def form_link(tracker: Tracker) -> Dict[str, Any] | None:
    """The web form, opened for this conversation's company only; None if unlinked or the help desk is down."""
    from .services import NotLinked, ServiceUnavailable, call, tenant_of

    try:
        tenant = tenant_of(tracker)
        link = await call("helpdesk_bot", "POST", f"/api/v1/companies/{tenant.company_id}/application-link", tenant)
    except (NotLinked, ServiceUnavailable):
        return None  # the chat path still works; the help desk says what an unlinked user must do
    url = str((link or {}).get("url") or "")
    return {"type": "link", "title": FORM_LINK_TITLE, "url": url} if url.startswith(("https://", "http://")) else None


class ActionApplyService(Action):
    def name(self) -> Text:
        return "action_apply_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        service = next(tracker.get_latest_entity_values("service"), None)
        link = await form_link(tracker)
        if service not in SERVICE_LABELS:
            dispatcher.utter_message(response="utter_apply_intro")
            if link:
                dispatcher.utter_message(text="フォームからでも、まとめてお申し込みいただけます。")
                dispatcher.utter_message(json_message=link)
            return []
        dispatcher.utter_message(
            text=f"{SERVICE_LABELS[service]}のお申し込みを受け付けます。内容を確認して、担当者からご連絡します。"
        )
        dispatcher.utter_message(json_message={"type": "apply_service", "service": service})
        if link:
            # Next to the in-chat application: the form takes survey dates and a contact number in one go.
            dispatcher.utter_message(json_message=link)
        return []
