"""Shared wording and hand-over payloads (polite, short Japanese)."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher

from .services import SERVICE_NAMES_JA

HANDOFF_BUTTON = {"title": "担当者と話す", "payload": "/human_handoff"}

NOT_LINKED = (
    "このチャットはまだ会社の情報と結びついていないため、お調べできません。"
    "管理者の方から届いた連携コードを送ってください。担当者におつなぎすることもできます。"
)


def unavailable(dispatcher: CollectingDispatcher, service: str) -> None:
    name = SERVICE_NAMES_JA.get(service, "サービス")
    dispatcher.utter_message(
        text=f"申し訳ありません。ただいま{name}の情報を確認できません。少し時間をおいてもう一度お試しいただくか、担当者にお尋ねください。",
        buttons=[HANDOFF_BUTTON],
    )


def not_linked(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=NOT_LINKED, buttons=[HANDOFF_BUTTON])


def handoff(dispatcher: CollectingDispatcher, reason: str, summary: str, text: str, **extra: Any) -> None:
    """Tell the user, and ask the channel to open a ticket and move the chat to an operator."""
    dispatcher.utter_message(text=text)
    dispatcher.utter_message(json_message={"type": "handoff", "reason": reason, "summary": summary[:500], **extra})


def last_user_text(events: List[Dict[str, Any]]) -> str:
    for event in reversed(events):
        if event.get("event") == "user" and not str(event.get("text") or "").startswith("/"):
            return str(event.get("text") or "")
    return ""
