"""What the bot says, channel-neutral (LINE and web chat render these)."""
from __future__ import annotations

from typing import Any

import msgspec


class Button(msgspec.Struct, frozen=True):
    title: str
    payload: str


class BotMessage(msgspec.Struct, frozen=True, kw_only=True):
    text: str | None = None
    buttons: list[Button] = []
    custom: dict[str, Any] | None = None
    """Structured replies, e.g. {"type": "alert_card", ...} or {"type": "handoff", "reason": ...}."""


def from_rasa(reply: dict[str, Any]) -> BotMessage:
    """One reply of Rasa's REST channel (``{"recipient_id", "text", "buttons", "custom"}``)."""
    buttons = [Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in reply.get("buttons") or []]
    custom = reply.get("custom")
    return BotMessage(text=reply.get("text"), buttons=buttons, custom=custom if isinstance(custom, dict) else None)
