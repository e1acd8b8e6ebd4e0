"""Proof, for the Rasa action server, that the help desk vouches for a chat's company.

Rasa's REST channel accepts any metadata, and the action server acts on behalf
of the company named there. So the help desk signs (sender, partner, company,
time) with the deployment key, and the action server only believes a tenant
whose proof checks out and is recent. Anyone else who reaches Rasa's port gets
treated as an unlinked chat. The same function is copied in
``rasa/actions/services.py`` (a different Python environment).
"""
from __future__ import annotations

import hashlib
import hmac
import time

MAX_AGE_SECONDS = 900


def sign(key: str, sender_id: str, partner_id: str, company_id: str, ts: int) -> str:
    message = f"{sender_id}|{partner_id}|{company_id}|{ts}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def with_proof(key: str | None, sender_id: str, metadata: dict) -> dict:
    """The metadata plus ``tenant_ts``/``tenant_proof`` when it names a company."""
    if not key or not metadata.get("company_id") or not metadata.get("partner_id"):
        return metadata
    ts = int(time.time())
    proof = sign(key, sender_id, str(metadata["partner_id"]), str(metadata["company_id"]), ts)
    return {**metadata, "tenant_ts": ts, "tenant_proof": proof}
