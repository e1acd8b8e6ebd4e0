"""One-time link codes: a company admin hands one to a staff member, who types it into the chat."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.helpdesk import ContactLinked, LinkCodeIssued

AGGREGATE_TYPE = "link_code"
DIGITS = 8


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(DIGITS))


def normalise(text: str) -> str | None:
    """A code as typed (full-width digits, spaces, hyphens allowed), or None if it is not one."""
    flat = unicodedata.normalize("NFKC", text).replace(" ", "").replace("-", "").strip()
    return flat if len(flat) == DIGITS and flat.isdigit() else None


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def aggregate_id(code: str) -> str:
    return code_hash(code)[:40]


class LinkCode(msgspec.Struct, frozen=True):
    issued: bool = False
    used: bool = False
    contact_name: str = ""
    expires_at: datetime | None = None
    used_by: tuple[str, str] | None = None  # (channel, user_id) that redeemed it


def evolve(state: LinkCode, env: Envelope) -> LinkCode:
    if isinstance(env.data, LinkCodeIssued):
        return LinkCode(True, False, env.data.contact_name, env.data.expires_at)
    if isinstance(env.data, ContactLinked):
        return msgspec.structs.replace(state, used=True, used_by=(env.data.channel, env.data.user_id))
    return state


LINK_CODE = Aggregate(initial=LinkCode, evolve=evolve)


def redeem(state: LinkCode, code: str, channel: str, user_id: str, display_name: str | None, now: datetime) -> list[ContactLinked]:
    if not state.issued:
        raise DomainError("unknown code")
    if state.used:
        if state.used_by == (channel, user_id):
            return []  # the same user's turn redelivered: already linked
        raise DomainError("code already used")
    if state.expires_at is not None and now >= state.expires_at:
        raise DomainError("code expired")
    return [ContactLinked(code_hash=code_hash(code), channel=channel, user_id=user_id,
                          contact_name=state.contact_name, display_name=display_name)]
