"""Operator accounts: commands, the read model the login checks, and the failed-login throttle.

Console sessions are a projection too (``operator_sessions``: one row per open
session, keyed by the SHA-256 of the session id in the operator's cookie). A
row appears with ``operator_signed_in`` and goes with ``operator_signed_out``
(logout, idle, limit, disabling, password reset or change); rows past their
12 h limit are pruned at each sign-in. A cookie whose row is gone is refused.

Failed logins are counted per e-mail address in PostgreSQL (not in memory), so
the throttle holds across restarts and replicas, and it counts unknown
addresses exactly like known ones so the answer never tells which exist.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from otasuke.events import AggregateRef, DomainError, EventMeta, Projection, Recorded, Tenant, execute, utcnow
from otasuke.events.schemas import helpdesk as hd
from otasuke.events.streams import HELPDESK
from otasuke.platform.service import Runtime

from ..domain import operator_account as oa

VIEW = "helpdesk_bot.operator_accounts"
MAX_FAILURES = 5
"""Failed logins for one address within FAILURE_WINDOW before it is locked for LOCKOUT."""
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-to-spend-the-same-time")

LOGIN_ATTEMPTS_DDL = """
CREATE TABLE IF NOT EXISTS operator_login_attempts (
    email text PRIMARY KEY, failures integer NOT NULL, first_failure_at timestamptz NOT NULL,
    locked_until timestamptz)
"""


class OperatorAccountView(Projection):
    """Accounts by e-mail with their password hash: what the login page checks."""

    name = VIEW
    stream = HELPDESK.name
    filter_subjects = (f"helpdesk.*.*.{oa.AGGREGATE_TYPE}.*",)
    event_types = frozenset({"helpdesk.operator_account_created", "helpdesk.operator_password_link_issued",
                             "helpdesk.operator_password_set", "helpdesk.operator_signed_in",
                             "helpdesk.operator_signed_out", "helpdesk.operator_account_disabled"})
    tables = ("operator_accounts", "operator_sessions")
    schema = """
    CREATE TABLE IF NOT EXISTS operator_accounts (
        account_id text PRIMARY KEY, partner_id text NOT NULL, email text NOT NULL UNIQUE, display_name text NOT NULL,
        is_admin boolean NOT NULL, password_hash text, link_token_hash text, link_expires_at timestamptz, disabled boolean NOT NULL,
        created_at timestamptz NOT NULL, created_by text NOT NULL, last_sign_in_at timestamptz);
    CREATE INDEX IF NOT EXISTS operator_accounts_partner ON operator_accounts (partner_id);
    CREATE INDEX IF NOT EXISTS operator_accounts_link ON operator_accounts (link_token_hash);
    CREATE TABLE IF NOT EXISTS operator_sessions (
        session_hash text PRIMARY KEY, account_id text NOT NULL, partner_id text NOT NULL,
        signed_in_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
    CREATE INDEX IF NOT EXISTS operator_sessions_account ON operator_sessions (account_id);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        d, at = rec.data, rec.envelope.occurred_at
        if isinstance(d, hd.OperatorAccountCreated):
            await conn.execute(
                "INSERT INTO operator_accounts VALUES ($1,$2,$3,$4,$5,NULL,NULL,NULL,false,$6,$7,NULL) ON CONFLICT DO NOTHING",
                d.account_id, rec.envelope.partner_id, d.email, d.display_name, d.is_admin, at, d.by)
        elif isinstance(d, hd.OperatorPasswordLinkIssued):
            await conn.execute("UPDATE operator_accounts SET link_token_hash=$2, link_expires_at=$3,"
                               " password_hash=CASE WHEN $4 THEN NULL ELSE password_hash END WHERE account_id=$1",
                               d.account_id, d.token_hash, d.expires_at, d.revokes_password)
        elif isinstance(d, hd.OperatorPasswordSet):
            await conn.execute("UPDATE operator_accounts SET password_hash=$2, link_token_hash=NULL, link_expires_at=NULL WHERE account_id=$1",
                               d.account_id, d.password_hash)
        elif isinstance(d, hd.OperatorSignedIn):
            await conn.execute("UPDATE operator_accounts SET last_sign_in_at=$2 WHERE account_id=$1", d.account_id, at)
            if d.session_hash and d.expires_at is not None:
                await conn.execute("INSERT INTO operator_sessions VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                                   d.session_hash, d.account_id, rec.envelope.partner_id, at, d.expires_at)
            # Pruned by the event's time, not the clock, so a rebuild ends with the same rows.
            await conn.execute("DELETE FROM operator_sessions WHERE expires_at < $1", at)
        elif isinstance(d, hd.OperatorSignedOut):
            await conn.execute("DELETE FROM operator_sessions WHERE session_hash=$1", d.session_hash)
        elif isinstance(d, hd.OperatorAccountDisabled):
            await conn.execute("UPDATE operator_accounts SET disabled=true, link_token_hash=NULL, link_expires_at=NULL WHERE account_id=$1",
                               d.account_id)
            await conn.execute("DELETE FROM operator_sessions WHERE account_id=$1", d.account_id)


def ref(partner_id: str, account_id: str) -> AggregateRef:
    return AggregateRef("helpdesk", Tenant(partner_id), oa.AGGREGATE_TYPE, account_id)


async def _done(rt: Runtime, outcome) -> None:
    if outcome.appended:
        await rt.wait_for(VIEW, outcome.version)


@dataclass(frozen=True)
class PasswordLink:
    account_id: str
    token: str
    expires_at: datetime


def _link(account_id: str, by: str, *, reset: bool = False) -> tuple[str, hd.OperatorPasswordLinkIssued]:
    token = oa.new_password_token()
    return token, hd.OperatorPasswordLinkIssued(account_id=account_id, token_hash=oa.token_hash(token),
                                                expires_at=utcnow() + oa.PASSWORD_LINK_TTL, by=by,
                                                revokes_password=reset)


async def create_account(rt: Runtime, partner_id: str, *, email: str, display_name: str, is_admin: bool,
                         by: str) -> PasswordLink | None:
    """A new account and its first set-password link; None when exactly this account already exists."""
    email = oa.normalise_email(email)
    account_id = oa.account_id_for(email)
    taken = await rt.pool.fetchval("SELECT partner_id FROM operator_accounts WHERE account_id=$1", account_id)
    if taken is not None and taken != partner_id:
        # One address, one partner: the login form has no partner field.
        raise DomainError("an account with this e-mail address already exists")
    token, link = _link(account_id, by)
    created = hd.OperatorAccountCreated(account_id=account_id, email=email, display_name=display_name.strip(),
                                        is_admin=is_admin, by=by)
    outcome = await execute(rt.store, oa.OPERATOR_ACCOUNT, ref(partner_id, account_id),
                            lambda s: oa.create(s, created, link), meta=EventMeta(actor=by))
    await _done(rt, outcome)
    return PasswordLink(account_id, token, link.expires_at) if outcome.appended else None


async def issue_password_link(rt: Runtime, partner_id: str, account_id: str, *, by: str) -> PasswordLink:
    """A new one-time link (reset): the previous link and the old password stop working, and the
    account's open sessions end."""
    token, link = _link(account_id, by, reset=True)
    now = utcnow()
    await _done(rt, await execute(rt.store, oa.OPERATOR_ACCOUNT, ref(partner_id, account_id),
                                  lambda s: oa.issue_link(s, link, now=now), meta=EventMeta(actor=by)))
    return PasswordLink(account_id, token, link.expires_at)


async def set_password(rt: Runtime, token: str, password: str) -> asyncpg.Record:
    """Spend a set-password link. Raises DomainError for a bad link; the caller checks the password policy first."""
    presented = oa.token_hash(token)
    row = await rt.pool.fetchrow("SELECT account_id, partner_id FROM operator_accounts WHERE link_token_hash=$1", presented)
    if row is None:
        raise DomainError("this link is invalid, used or expired")
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    now = utcnow()
    # The aggregate decides again: the read model may lag behind a link spent a moment ago.
    await _done(rt, await execute(
        rt.store, oa.OPERATOR_ACCOUNT, ref(row["partner_id"], row["account_id"]),
        lambda s: oa.set_password(s, row["account_id"], presented, password_hash, now=now),
        meta=EventMeta(actor=f"operator:{row['account_id']}")))
    return await account(rt, row["account_id"])


async def account(rt: Runtime, account_id: str) -> asyncpg.Record | None:
    return await rt.pool.fetchrow("SELECT * FROM operator_accounts WHERE account_id=$1", account_id)


async def accounts_of(rt: Runtime, partner_id: str) -> list[asyncpg.Record]:
    return await rt.pool.fetch("SELECT * FROM operator_accounts WHERE partner_id=$1 ORDER BY disabled, display_name, email",
                               partner_id)


async def disable(rt: Runtime, partner_id: str, account_id: str, *, reason: str, by: str) -> None:
    """Disable the account; its open console sessions end with it."""
    now = utcnow()
    await _done(rt, await execute(rt.store, oa.OPERATOR_ACCOUNT, ref(partner_id, account_id),
                                  lambda s: oa.disable(s, account_id, reason, by, now=now), meta=EventMeta(actor=by)))


async def session(rt: Runtime, session_hash: str) -> asyncpg.Record | None:
    """The console session with this hash, or None once it ended; the caller checks ``expires_at``
    (a session past its limit still has its row until it is signed out or pruned)."""
    return await rt.pool.fetchrow("SELECT * FROM operator_sessions WHERE session_hash=$1", session_hash)


async def sign_out(rt: Runtime, partner_id: str, account_id: str, session_hash: str, *,
                   reason: hd.OperatorSignOutReason, actor: str) -> None:
    """End one console session (idempotent: a session ends once, whoever asks again)."""
    await _done(rt, await execute(rt.store, oa.OPERATOR_ACCOUNT, ref(partner_id, account_id),
                                  lambda s: oa.sign_out(s, account_id, session_hash, reason),
                                  meta=EventMeta(actor=actor), command_id=f"sign-out:{session_hash}"))


class LoginRefused(Exception):
    """Wrong address or password, or locked: the page says the same thing for all but the lock."""

    def __init__(self, locked_until: datetime | None = None):
        super().__init__("login refused")
        self.locked_until = locked_until


async def sign_in(rt: Runtime, email: str, password: str, *, session_hash: str, expires_at: datetime) -> asyncpg.Record:
    """Check the password and open the console session ``session_hash`` (recorded once the read model has it)."""
    email = oa.normalise_email(email)
    now = utcnow()
    attempts = await rt.pool.fetchrow("SELECT * FROM operator_login_attempts WHERE email=$1", email)
    if attempts is not None and attempts["locked_until"] is not None and attempts["locked_until"] > now:
        raise LoginRefused(attempts["locked_until"])
    row = await rt.pool.fetchrow("SELECT * FROM operator_accounts WHERE email=$1", email)
    usable = row is not None and not row["disabled"] and row["password_hash"] is not None
    ok = await asyncio.to_thread(_verify, row["password_hash"] if usable else _DUMMY_HASH, password)
    if not (usable and ok):
        locked_until = await _count_failure(rt.pool, email, now)
        raise LoginRefused(locked_until)
    await rt.pool.execute("DELETE FROM operator_login_attempts WHERE email=$1", email)
    await _done(rt, await execute(rt.store, oa.OPERATOR_ACCOUNT, ref(row["partner_id"], row["account_id"]),
                                  lambda s: oa.sign_in(s, row["account_id"], session_hash, expires_at),
                                  meta=EventMeta(actor=f"operator:{row['account_id']}")))
    return row


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _count_failure(pool: asyncpg.Pool, email: str, now: datetime) -> datetime | None:
    """Record one failure; returns the end of the lock when this failure locks the address."""
    row = await pool.fetchrow(
        """INSERT INTO operator_login_attempts AS a VALUES ($1, 1, $2, NULL)
           ON CONFLICT (email) DO UPDATE SET
             failures = CASE WHEN a.first_failure_at < $3 THEN 1 ELSE a.failures + 1 END,
             first_failure_at = CASE WHEN a.first_failure_at < $3 THEN $2 ELSE a.first_failure_at END,
             locked_until = NULL
           RETURNING failures""", email, now, now - FAILURE_WINDOW)
    if row["failures"] >= MAX_FAILURES:
        until = now + LOCKOUT
        await pool.execute(
            "UPDATE operator_login_attempts SET locked_until=$2, failures=0, first_failure_at=$3 WHERE email=$1",
            email, until, now)
        return until
    return None
