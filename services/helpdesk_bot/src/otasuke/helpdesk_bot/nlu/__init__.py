"""The bot's brain: the Rasa 3.6 server (its own Python 3.10 environment) and how we talk to it.

Contract used by the chat channels (LINE, web chat):

* :func:`bot_client` returns a :class:`BotClient` for the running Rasa server;
* ``await client.respond(sender_id, text, metadata)`` returns the bot's replies
  as :class:`BotMessage` (text, buttons, custom payloads such as alert cards or
  a hand-over request);
* ``await client.parse(text)`` returns Rasa's ``/model/parse`` result;
* :data:`routes` are the help desk's NLU routes (``POST /api/v1/nlu/parse``);
* :func:`sidecars` are the processes ``otasuke run`` starts (Rasa server, action server).

``metadata`` passed to ``respond`` should carry ``company_id`` and ``partner_id``
of the linked contact (the actions mint a token for that company), ``channel``
(``line`` / ``web``) and, when the user is answering an alert card,
``alert_id`` (the question is then about that alert). Button payloads are Rasa
intents (``/human_handoff``, ``/affirm{"diag_answer": "yes"}``): send the payload
back as the message text when a button is pressed.

Custom payloads the channel acts on (``BotMessage.custom``):

* ``{"type": "handoff", "reason": "user_request" | "bot_failed" | "incident_report"
  | "dispatch_request" | "whitelist_request" | "bot_unavailable", "summary": str}``:
  open a ticket and move the conversation to the operator queue;
* ``{"type": "apply_service", "service": "utm" | "edr" | ...}``: the user wants to apply.
"""
from __future__ import annotations

from .client import BotClient, bot_client
from .messages import BotMessage, Button
from .routes import routes
from .sidecars import sidecars

__all__ = ["BotClient", "BotMessage", "Button", "bot_client", "routes", "sidecars"]
