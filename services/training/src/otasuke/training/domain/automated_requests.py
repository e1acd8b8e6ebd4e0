"""Telling mail scanners and sandboxes from people.

Security gateways (and some mail clients' link previews) fetch every link of
an incoming mail before anyone reads it. Counting those as clicks would make
a careful company look careless, so such requests are recorded for audit but
not counted. Signs: a HEAD request, a known scanner user agent, or a click
within a few seconds of delivery (faster than a person can read a mail).
"""
from __future__ import annotations

from datetime import datetime

# Substrings (lower case) of user agents sent by link scanners and sandboxes.
SCANNER_AGENTS: tuple[str, ...] = (
    "barracuda",
    "proofpoint",
    "mimecast",
    "trendmicro",
    "trend micro",
    "symantec",
    "forcepoint",
    "ironport",
    "fortiguard",
    "paloalto",
    "urlscan",
    "virustotal",
    "safelinks",
    "microsoft office protection",
    "google-safety",
    "googlebot",
    "bingpreview",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "libwww-perl",
    "java/",
    "okhttp",
    "headlesschrome-scanner",
    "scanner",
    "crawler",
    "spider",
)


def automated_reason(
    *,
    method: str,
    user_agent: str,
    sent_at: datetime | None,
    at: datetime,
    min_human_seconds: float,
) -> str | None:
    """Why this request looks automated, or None if a person probably made it."""
    if method.upper() == "HEAD":
        return "HEAD request"
    agent = (user_agent or "").lower()
    if not agent.strip():
        return "no user agent"
    for marker in SCANNER_AGENTS:
        if marker in agent:
            return f"scanner user agent ({marker})"
    if sent_at is not None and (at - sent_at).total_seconds() < min_human_seconds:
        return f"within {min_human_seconds:g} s of delivery"
    return None
