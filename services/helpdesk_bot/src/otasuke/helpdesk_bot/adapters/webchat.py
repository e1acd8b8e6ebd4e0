"""Open web-chat WebSockets by visitor, so the help desk can push to them."""
from __future__ import annotations

import logging
from collections import defaultdict

import msgspec
from litestar import WebSocket

from ..nlu import BotMessage

log = logging.getLogger(__name__)


def to_web(message: BotMessage, sender: str) -> dict:
    out: dict = {"type": "message", "sender": sender, "text": message.text,
                 "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons]}
    if message.custom and message.custom.get("type") == "alert_card":
        out["card"] = message.custom
    return out


class WebChatSockets:
    def __init__(self) -> None:
        self._sockets: dict[str, set[WebSocket]] = defaultdict(set)

    def add(self, visitor: str, socket: WebSocket) -> None:
        self._sockets[visitor].add(socket)

    def remove(self, visitor: str, socket: WebSocket) -> None:
        self._sockets[visitor].discard(socket)

    async def send(self, visitor: str, messages: list[BotMessage], sender: str = "bot") -> int:
        """Send to every open tab of the visitor; returns how many got it (0: they read it in the history later)."""
        delivered = 0
        for socket in list(self._sockets.get(visitor, ())):
            try:
                for m in messages:
                    await socket.send_text(msgspec.json.encode(to_web(m, sender)).decode())
                delivered += 1
            except Exception:
                log.info("web chat socket of %s closed while sending", visitor)
                self.remove(visitor, socket)
        return delivered
