"""The MIME message of one training mail.

Japanese mail: UTF-8 with base64 bodies by default; ``iso-2022-jp`` (7-bit
JIS, the traditional Japanese mail charset) for old clients that cannot read
UTF-8. Headers with Japanese text are RFC 2047 encoded words in the same
charset.

Headers for the partner's mail filters (see docs/services/training.md):
``X-Otasuke-Training: 1`` marks every training mail, ``X-Otasuke-Campaign``
names the campaign. The Message-ID is derived from the recipient id, so a
mail re-sent after a crash carries the same id as the first attempt.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from datetime import datetime

TRAINING_HEADER = "X-Otasuke-Training"
CAMPAIGN_HEADER = "X-Otasuke-Campaign"


class UnencodableText(ValueError):
    """The text has characters the chosen charset cannot carry (e.g. ① or emoji in ISO-2022-JP)."""


@dataclass(frozen=True)
class Mail:
    sender_name: str
    sender_address: str
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str
    campaign_id: str
    date: datetime
    charset: str = "utf-8"
    learning_stage: str | None = None
    """Set on learning invitations (``X-Otasuke-Learning``), which are not lures."""


def message_id_for(recipient_id: str, domain: str) -> str:
    # The recipient id is already unique per campaign and address.
    return f"<{recipient_id}@{domain}>"


def _check(text: str, charset: str) -> None:
    try:
        text.encode(charset)
    except UnicodeEncodeError as exc:
        raise UnencodableText(
            f"{exc.object[exc.start:exc.end]!r} cannot be written in {charset}; use utf-8 or another character"
        ) from exc


def _address(name: str, address: str, charset: str) -> str:
    if not name:
        return address
    return formataddr((name, address), charset=charset)


def build_message(mail: Mail) -> MIMEMultipart:
    """A multipart/alternative message (text first, HTML preferred by clients that show it)."""
    charset = mail.charset
    for part in (mail.subject, mail.text, mail.html, mail.sender_name, mail.to_name):
        _check(part, charset)
    # ISO-2022-JP is a 7-bit encoding and goes as is; UTF-8 bodies are base64.
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(mail.subject, charset)
    msg["From"] = _address(mail.sender_name, mail.sender_address, charset)
    msg["To"] = _address(mail.to_name, mail.to_address, charset)
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = mail.message_id
    msg[TRAINING_HEADER] = "1"
    msg[CAMPAIGN_HEADER] = mail.campaign_id
    if mail.learning_stage:
        msg["X-Otasuke-Learning"] = mail.learning_stage
    msg.attach(MIMEText(mail.text, "plain", charset))
    msg.attach(MIMEText(mail.html, "html", charset))
    return msg
