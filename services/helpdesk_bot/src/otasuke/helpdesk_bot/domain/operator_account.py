"""Console accounts of the partner's staff: created by an administrator, password set through a one-time link.

The aggregate id is derived from the e-mail address, so creating the same
account twice is one account. Only hashes are ever recorded: the SHA-256 of
the set-password token, of each console session id, and the argon2id hash of
the password.

The aggregate also knows the account's open console sessions, so disabling
the account, issuing a new password link (reset) or setting a password ends
each of them with its own ``operator_signed_out``: an auditor replays who was
in the console when from sign-in and sign-out events alone.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.helpdesk import (
    OperatorAccountCreated,
    OperatorAccountDisabled,
    OperatorPasswordLinkIssued,
    OperatorPasswordSet,
    OperatorSignedIn,
    OperatorSignedOut,
    OperatorSignOutReason,
)

AGGREGATE_TYPE = "operator"
PASSWORD_LINK_TTL = timedelta(hours=72)
MIN_PASSWORD_LENGTH = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def account_id_for(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]


def new_password_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_problem(password: str, email: str = "") -> str | None:
    """Why a new password is refused (Japanese, shown next to the field), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
    if len(set(password)) < 5:
        return "同じ文字の繰り返しが多すぎます。推測されにくいパスワードにしてください。"
    local = normalise_email(email).split("@")[0]
    if local and len(local) >= 4 and local in password.lower():
        return "メールアドレスを含まないパスワードにしてください。"
    return None


class OperatorAccount(msgspec.Struct, frozen=True):
    exists: bool = False
    email: str = ""
    display_name: str = ""
    is_admin: bool = False
    token_hash: str | None = None
    token_expires: datetime | None = None
    has_password: bool = False
    disabled: bool = False
    sessions: tuple[tuple[str, datetime], ...] = ()
    """Open console sessions: (session hash, latest end). Ones past their end are dropped at the next sign-in."""


def open_sessions(state: OperatorAccount, now: datetime) -> list[str]:
    return [h for h, ends in state.sessions if ends > now]


def evolve(state: OperatorAccount, env: Envelope) -> OperatorAccount:
    d = env.data
    if isinstance(d, OperatorAccountCreated):
        return OperatorAccount(True, d.email, d.display_name, d.is_admin)
    if isinstance(d, OperatorSignedIn):
        if not d.session_hash or d.expires_at is None:
            return state  # recorded before sessions were: nothing to end later
        kept = tuple(s for s in state.sessions if s[1] > env.occurred_at)
        return msgspec.structs.replace(state, sessions=(*kept, (d.session_hash, d.expires_at)))
    if isinstance(d, OperatorSignedOut):
        return msgspec.structs.replace(state, sessions=tuple(s for s in state.sessions if s[0] != d.session_hash))
    if isinstance(d, OperatorPasswordLinkIssued):
        return msgspec.structs.replace(state, token_hash=d.token_hash, token_expires=d.expires_at,
                                       has_password=state.has_password and not d.revokes_password)
    if isinstance(d, OperatorPasswordSet):
        # The link is spent: one use only.
        return msgspec.structs.replace(state, has_password=True, token_hash=None, token_expires=None)
    if isinstance(d, OperatorAccountDisabled):
        return msgspec.structs.replace(state, disabled=True, token_hash=None, token_expires=None)
    return state


OPERATOR_ACCOUNT = Aggregate(initial=OperatorAccount, evolve=evolve)


def create(state: OperatorAccount, command: OperatorAccountCreated, link: OperatorPasswordLinkIssued) -> list:
    if state.exists:
        if state.email == command.email and not state.disabled:
            return []  # the same request again
        raise DomainError("an account with this e-mail address already exists")
    if not EMAIL.match(command.email):
        raise DomainError("email is not an e-mail address")
    if not command.display_name.strip():
        raise DomainError("display_name is required")
    return [command, link]


def _end_sessions(state: OperatorAccount, account_id: str, reason: OperatorSignOutReason, now: datetime) -> list:
    return [OperatorSignedOut(account_id=account_id, session_hash=h, reason=reason) for h in open_sessions(state, now)]


def issue_link(state: OperatorAccount, link: OperatorPasswordLinkIssued, *, now: datetime) -> list:
    """A new link (first one, or a reset): whoever is signed in with the account is signed out."""
    if not state.exists:
        raise DomainError("no such account")
    if state.disabled:
        raise DomainError("the account is disabled")
    return [link, *_end_sessions(state, link.account_id, "password_reset", now)]


def set_password(state: OperatorAccount, account_id: str, presented_token_hash: str, password_hash: str, *,
                 now: datetime) -> list:
    """Accept the password only with the current, unexpired, unused link (same refusal whatever is wrong)."""
    valid = (state.exists and not state.disabled and state.token_hash is not None
             and secrets.compare_digest(state.token_hash, presented_token_hash)
             and state.token_expires is not None and state.token_expires > now)
    if not valid:
        raise DomainError("this link is invalid, used or expired")
    # A session opened with the old password since the link was issued ends too.
    return [OperatorPasswordSet(account_id=account_id, password_hash=password_hash),
            *_end_sessions(state, account_id, "password_changed", now)]


def sign_in(state: OperatorAccount, account_id: str, session_hash: str, expires_at: datetime) -> list:
    if not state.exists or state.disabled or not state.has_password:
        raise DomainError("this account cannot sign in")
    return [OperatorSignedIn(account_id=account_id, session_hash=session_hash, expires_at=expires_at)]


def sign_out(state: OperatorAccount, account_id: str, session_hash: str, reason: OperatorSignOutReason) -> list:
    """End one session; nothing when it already ended (a second logout with a copied cookie records nothing)."""
    if not any(h == session_hash for h, _ in state.sessions):
        return []
    return [OperatorSignedOut(account_id=account_id, session_hash=session_hash, reason=reason)]


def disable(state: OperatorAccount, account_id: str, reason: str, by: str, *, now: datetime) -> list:
    if not state.exists:
        raise DomainError("no such account")
    if state.disabled:
        return []
    if not reason.strip():
        raise DomainError("say why the account is disabled")
    return [OperatorAccountDisabled(account_id=account_id, reason=reason, by=by),
            *_end_sessions(state, account_id, "account_disabled", now)]
