"""HTTP client for the Rasa server: the REST channel for conversations, /model/parse for NLU."""
from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec

from otasuke.platform.settings import Settings

from .location import rasa_token, rasa_url
from .messages import BotMessage, from_rasa
from .tenant_proof import with_proof

log = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "申し訳ありません。ただいま自動応答がご利用いただけません。担当者にお引き継ぎしますので、少しお待ちください。"
)


class BotUnavailable(Exception):
    """The Rasa server did not answer."""


class BotClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0, signing_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.signing_key = signing_key

    def _params(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    async def respond(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> list[BotMessage]:
        """The bot's replies to one user message. If Rasa is down, a hand-over instead of silence."""
        body = {"sender": sender_id, "message": text, "metadata": with_proof(self.signing_key, sender_id, metadata or {})}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                r = await http.post(f"{self.base_url}/webhooks/rest/webhook", json=body)
                r.raise_for_status()
                replies = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa did not answer for %s: %s", sender_id, exc)
            return [
                BotMessage(
                    text=UNAVAILABLE_TEXT,
                    custom={"type": "handoff", "reason": "bot_unavailable", "summary": text[:200]},
                )
            ]
        return [from_rasa(reply) for reply in replies or []]

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's ``/model/parse``: ``{"text", "intent": {"name", "confidence"}, "entities", "intent_ranking"}``."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                r = await http.post(f"{self.base_url}/model/parse", params=self._params(), json={"text": text})
                r.raise_for_status()
                return msgspec.json.decode(r.content)
        except (httpx.HTTPError, msgspec.DecodeError) as exc:
            raise BotUnavailable(f"rasa /model/parse failed: {exc}") from exc

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                r = await http.get(f"{self.base_url}/status", params=self._params())
                return r.status_code == 200 and bool(r.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False


def bot_client(settings: Settings | None = None) -> BotClient:
    settings = settings or Settings.from_env()
    return BotClient(rasa_url(), rasa_token(settings.signing_key), signing_key=settings.signing_key)
