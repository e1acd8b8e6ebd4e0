"""The report mailbox: staff forward a suspicious mail to it, and a forwarded training mail counts as reported.

An aiosmtpd server on the service's own event loop (``OTASUKE_TRAINING_REPORT_SMTP_PORT``;
the partner's MX or a forwarding rule delivers the report address here). A
forward carries the training mail's links (inline or as an attached
message/rfc822) or its Message-ID in References/In-Reply-To; each holds the
recipient token. Mail without a known token is accepted and ignored: real
phishing forwarded here is the help desk's business, not ours.
"""
from __future__ import annotations

import asyncio
import email
import logging
import re
from collections.abc import Awaitable, Callable
from email import policy

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)

# A token counts only where the *lure* carries it: its tracking links or its Message-ID
# (learning invitations use other links and ids, so forwarding one is not a report).
TOKEN = re.compile(rb"/t/(r[0-9a-f]{31})/(?:c|o\.gif|report)\b|<(r[0-9a-f]{31})@")


def tokens_in(raw: bytes) -> set[str]:
    """Recipient tokens anywhere in a message: raw bytes, decoded text parts and attached messages."""
    found = {a or b for a, b in ((x.decode(), y.decode()) for x, y in TOKEN.findall(raw))}
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                text = part.get_content()
            except (LookupError, ValueError):
                continue
            found |= {(a or b).decode() for a, b in TOKEN.findall(text.encode("utf-8", "replace"))}
    return found


class ReportHandler:
    def __init__(self, record: Callable[[str], Awaitable[bool]]):
        self.record = record

    async def handle_DATA(self, server, session, envelope):
        try:
            for token in tokens_in(envelope.original_content or envelope.content):
                await self.record(token)
        except Exception:  # never bounce a report because of our own failure; log it
            log.exception("report mailbox: could not record a report")
        return "250 OK thank you for reporting"


async def start_report_mailbox(
    host: str, port: int, record: Callable[[str], Awaitable[bool]]
) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    handler = ReportHandler(record)
    return await loop.create_server(lambda: SMTP(handler, hostname="otasuke-training-report"), host, port)
