"""HTTP access to the other Otasuke services, on behalf of the conversation's company."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp
import jwt
from rasa_sdk import Tracker

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"helpdesk_bot": 8000, "diagnosis": 8001, "telemetry": 8002, "training": 8003, "insurance": 8004}
TIMEOUT = aiohttp.ClientTimeout(total=8)

SERVICE_NAMES_JA = {
    "telemetry": "監視",
    "diagnosis": "セキュリティ診断",
    "training": "メール訓練",
    "insurance": "保険",
    "helpdesk_bot": "お申し込み",
}


class ServiceUnavailable(Exception):
    def __init__(self, service: str, detail: str):
        super().__init__(f"{service}: {detail}")
        self.service = service


class NotLinked(Exception):
    """The chat user is not linked to a company yet."""


@dataclass(frozen=True)
class Tenant:
    partner_id: str
    company_id: str
    sender_id: str


def service_url(service: str) -> str:
    explicit = os.environ.get(f"OTASUKE_{service.upper()}_URL")
    if explicit:
        return explicit.rstrip("/")
    host = os.environ.get("OTASUKE_HOST", "127.0.0.1")
    port = os.environ.get(f"OTASUKE_{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
    return f"http://{host}:{port}"


def metadata_of(tracker: Tracker) -> Dict[str, Any]:
    """The latest channel metadata carrying a tenant (the channel sends it with every message)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            meta = event.get("metadata") or {}
            if meta.get("company_id"):
                return meta
    return tracker.get_slot("session_started_metadata") or {}


# Same as otasuke.helpdesk_bot.nlu.tenant_proof (this runs in the Rasa environment).
TENANT_PROOF_MAX_AGE = 900


def _tenant_proof(key: str, sender_id: str, partner_id: str, company_id: str, ts: int) -> str:
    message = f"{sender_id}|{partner_id}|{company_id}|{ts}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def tenant_of(tracker: Tracker) -> Tenant:
    """The conversation's company, only if the help desk vouched for it.

    Rasa's REST channel takes metadata from whoever can reach it; a company is
    believed only with a recent HMAC proof made by the help desk with the
    deployment key. Anything else is treated as an unlinked chat.
    """
    meta = metadata_of(tracker)
    if not meta.get("company_id") or not meta.get("partner_id"):
        raise NotLinked()
    partner, company = str(meta["partner_id"]), str(meta["company_id"])
    key = os.environ.get("OTASUKE_SIGNING_KEY", "")
    try:
        ts = int(meta.get("tenant_ts") or 0)
    except (TypeError, ValueError):
        ts = 0
    expected = _tenant_proof(key, tracker.sender_id, partner, company, ts) if key else ""
    proof = str(meta.get("tenant_proof") or "")
    if not key or not hmac.compare_digest(expected, proof) or abs(time.time() - ts) > TENANT_PROOF_MAX_AGE:
        log.warning("refusing unproven tenant %s/%s for sender %s", partner, company, tracker.sender_id)
        raise NotLinked()
    return Tenant(partner, company, tracker.sender_id)


def mint_token(tenant: Tenant, ttl: int = 300) -> str:
    """A company_admin token for this conversation's company only (same claims as otasuke.platform.auth)."""
    key = os.environ.get("OTASUKE_SIGNING_KEY")
    if not key:
        raise ServiceUnavailable("auth", "OTASUKE_SIGNING_KEY is not set")
    now = int(time.time())
    claims = {
        "sub": f"helpdesk-bot:{tenant.sender_id}"[:200],
        "iat": now,
        "exp": now + ttl,
        "role": "company_admin",
        "partner_id": tenant.partner_id,
        "company_id": tenant.company_id,
    }
    return jwt.encode(claims, key, algorithm="HS256")


async def call(
    service: str,
    method: str,
    path: str,
    tenant: Tenant,
    *,
    json: Any = None,
    params: Optional[Dict[str, str]] = None,
    allow_404: bool = False,
) -> Any:
    """JSON from another service; :class:`ServiceUnavailable` on any failure (callers answer in Japanese)."""
    url = service_url(service) + path
    headers = {"Authorization": "Bearer " + mint_token(tenant)}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.request(method, url, json=json, params=params, headers=headers) as r:
                if r.status == 404 and allow_404:
                    return None
                if r.status >= 400:
                    text = await r.text()
                    raise ServiceUnavailable(service, f"{method} {path} -> {r.status}: {text[:200]}")
                if r.status == 204:
                    return None
                return await r.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ServiceUnavailable(service, f"{method} {path}: {exc!r}") from exc


def items_of(body: Any, *keys: str) -> List[Dict[str, Any]]:
    """A list from either a bare JSON list or an object wrapping it (``{"items": [...]}``)."""
    if isinstance(body, list):
        return [x for x in body if isinstance(x, dict)]
    if isinstance(body, dict):
        for key in (*keys, "items", "results", "data"):
            value = body.get(key)
            if isinstance(value, list):
                return [x for x in value if isinstance(x, dict)]
    return []
