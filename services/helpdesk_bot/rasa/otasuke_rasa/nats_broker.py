"""Rasa event broker that appends every conversation event to NATS JetStream.

Each tracker event becomes a ``helpdesk.conversation_event`` envelope, byte-for-byte
the format of ``otasuke.events`` (this runs in the Rasa Python 3.10 env, which
cannot import the 3.11 platform), on the subject of the conversation aggregate::

    helpdesk.<partner_id>.<company_id or _>.conversation.<conversation id>

so ``otasuke events`` tools and replay decode it like any other event.

Rasa calls :meth:`publish` synchronously from its event loop; events go through
a queue drained by one task, which keeps their order and retries while NATS or
the stream is briefly unavailable without ever blocking a conversation.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)

EVENT_TYPE = "helpdesk.conversation_event"
EVENT_VERSION = 1
STREAM = "HELPDESK"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
RETRY_SECONDS = 30.0
"""How long one event is retried (NATS reconnecting, stream not created yet) before it is dropped and logged."""


def token_id(value: Optional[str]) -> Optional[str]:
    """A subject-safe id: kept as is when valid, else a stable hash of it."""
    if value is None or value == "":
        return None
    if ID_PATTERN.match(value):
        return value
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:40]


def iso(ts: Optional[float]) -> str:
    moment = datetime.fromtimestamp(ts, timezone.utc) if ts else datetime.now(timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def envelope(event: Dict[Text, Any], partner_id: str, company_id: Optional[str]) -> Dict[Text, Any]:
    """The platform envelope (see libs/events/.../envelope.py) around one Rasa event."""
    sender = str(event.get("sender_id") or "unknown")
    conversation = token_id(sender) or "unknown"
    kind = str(event.get("event") or "unknown")
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": EVENT_TYPE,
        "version": EVENT_VERSION,
        "partner_id": partner_id,
        "company_id": company_id,
        "aggregate_id": conversation,
        "occurred_at": iso(event.get("timestamp")),
        "correlation_id": conversation,
        "causation_id": None,
        "actor": sender if kind == "user" else "bot",
        "traceparent": None,
        "tracestate": None,
        "data": {"conversation_id": sender, "event": kind, "payload": event},
    }


class NatsEventBroker(EventBroker):
    def __init__(self, url: str, default_partner: Optional[str] = None, retry_seconds: float = RETRY_SECONDS) -> None:
        self.url = url
        self.retry_seconds = float(retry_seconds)
        self.default_partner = default_partner or os.environ.get("OTASUKE_LOCAL_PARTNER") or "local"
        self._tenants: Dict[str, tuple] = {}
        self._queue: "asyncio.Queue[Optional[tuple]]" = asyncio.Queue()
        self._nc = None
        self._js = None
        self._pump_task: Optional[asyncio.Task] = None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> "NatsEventBroker":
        broker = cls(
            broker_config.url,
            broker_config.kwargs.get("default_partner"),
            broker_config.kwargs.get("retry_seconds", RETRY_SECONDS),
        )
        await broker.connect()
        return broker

    async def connect(self) -> None:
        import nats

        async def on_error(exc: Exception) -> None:
            log.warning("nats: %s", exc)

        self._nc = await nats.connect(
            self.url, name="helpdesk_rasa", max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=on_error
        )
        self._js = self._nc.jetstream(timeout=5)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    def tenant_of(self, event: Dict[Text, Any]) -> tuple:
        """The channel puts partner/company in the user message's metadata; bot events inherit it."""
        sender = str(event.get("sender_id") or "")
        meta = event.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("partner_id"):
            tenant = (token_id(str(meta["partner_id"])), token_id(meta.get("company_id")))
            self._tenants[sender] = tenant
            return tenant
        return self._tenants.get(sender, (self.default_partner, None))

    def publish(self, event: Dict[Text, Any]) -> None:
        partner, company = self.tenant_of(event)
        env = envelope(event, partner, company)
        subject = f"helpdesk.{partner}.{company or '_'}.conversation.{env['aggregate_id']}"
        body = json.dumps(env, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        self._queue.put_nowait((subject, body, env["id"]))

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            subject, body, event_id = item
            headers = {"Nats-Msg-Id": event_id, "Otasuke-Type": EVENT_TYPE}
            deadline = asyncio.get_running_loop().time() + self.retry_seconds
            delay = 0.1
            while True:
                try:
                    # Nats-Msg-Id makes a retried publish that did land a no-op.
                    await self._js.publish(subject, body, stream=STREAM, headers=headers)
                    break
                except Exception as exc:  # stream missing, NATS reconnecting, timeout
                    if asyncio.get_running_loop().time() + delay > deadline:
                        log.error("dropping conversation event %s on %s: %s", event_id, subject, exc)
                        break
                    await asyncio.sleep(delay)
                    delay = min(2.0, delay * 2)

    def is_ready(self) -> bool:
        return bool(self._nc and self._nc.is_connected)

    async def close(self) -> None:
        if self._pump_task:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(self._pump_task, 10)
            except asyncio.TimeoutError:
                self._pump_task.cancel()
        if self._nc:
            try:
                await self._nc.drain()
            except Exception:
                pass
