"""Fetch what a pull consumer has, without waiting for a full batch.

nats-py's ``fetch(n, timeout)`` keeps a lingering pull request open until it
has ``n`` messages or the timeout passes, so a worker idling on
``fetch(64, timeout=1)`` holds the first batch that arrives for up to a
second. Here the wait is for one message only; the rest is whatever the
stream already holds, asked for with a no-wait pull.
"""
from __future__ import annotations

import asyncio

DRAIN_WAIT = 0.005  # seconds; only spent when nothing else is pending


async def fetch_available(sub, batch: int, timeout: float = 1.0) -> list:
    """At least one message (or ``asyncio.TimeoutError``) and at most ``batch``."""
    msgs = await sub.fetch(1, timeout=timeout)
    if batch > 1:
        try:
            msgs += await sub.fetch(batch - 1, timeout=DRAIN_WAIT)
        except asyncio.TimeoutError:
            pass
    return msgs
