"""The web chat: a phone-friendly page at `/` and its WebSocket (the operator console is in console_login)."""
from __future__ import annotations

import logging
import re

import msgspec
from litestar import WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Template

log = logging.getLogger(__name__)
VISITOR = re.compile(r"^[A-Za-z0-9_]{8,64}$")


@get("/", include_in_schema=False)
async def chat_page() -> Template:
    return Template(template_name="webchat.html")


class Incoming(msgspec.Struct):
    type: str
    text: str | None = None
    data: str | None = None
    label: str | None = None


@websocket("/chat/ws")
async def chat_socket(socket: WebSocket, visitor: str) -> None:
    """One tab of one visitor. The visitor id is a random id the page keeps in localStorage."""
    if not VISITOR.match(visitor):
        await socket.close(code=4400, reason="invalid visitor id")
        return
    rt = socket.app.state.runtime
    chat, sockets = rt.extras["chat"], rt.extras["web"]
    await socket.accept()
    sockets.add(visitor, socket)
    try:
        history = await rt.pool.fetch(
            "SELECT sender, text FROM transcript WHERE conversation_id=$1 ORDER BY seq DESC LIMIT 50", f"web-{visitor}")
        for row in reversed(history):
            await socket.send_text(msgspec.json.encode(
                {"type": "message", "sender": row["sender"], "text": row["text"], "buttons": [], "history": True}).decode())
        while True:
            raw = await socket.receive_text()
            try:
                msg = msgspec.json.decode(raw, type=Incoming)
            except msgspec.DecodeError:
                continue
            if msg.type == "text" and msg.text and msg.text.strip():
                await chat.handle_text("web", visitor, msg.text.strip()[:2000])
            elif msg.type == "postback" and msg.data:
                await chat.handle_postback("web", visitor, msg.data, msg.label)
    except WebSocketDisconnect:
        pass
    finally:
        sockets.remove(visitor, socket)
