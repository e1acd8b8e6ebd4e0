"""The bot's brain: the Rasa 3.6 server (its own Python 3.10 environment) and how we talk to it.

Contract used by the chat channels (LINE, web chat):

* :func:`bot_client` returns a :class:`BotClient` for the running Rasa server;
* ``await client.respond(sender_id, text, metadata)`` returns the bot's replies
  as :class:`BotMessage` (text, buttons, custom payloads such as alert cards or
  a hand-over request);
* ``await client.parse(text)`` returns Rasa's ``/model/parse`` result;
* :data:`routes` are the help desk's NLU routes (``POST /api/v1/nlu/parse``);
* :func:`sidecars` are the processes ``otasuke run`` starts (Rasa server, action server).
"""
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


routes: list = []


def sidecars(settings) -> list:
    return []
