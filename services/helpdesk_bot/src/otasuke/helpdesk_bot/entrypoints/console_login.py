"""The operator console's sign-in: login page, session cookie, set-password page, logout.

The cookie is Litestar's client-side session (an AES-GCM encrypted cookie,
HttpOnly, SameSite=Strict, path /console) keyed from the deployment's signing
key, so it works across restarts and replicas. It carries a random session id;
only its SHA-256 is recorded (``operator_signed_in`` / ``operator_signed_out``)
and kept in the ``operator_sessions`` read model, which every console request
checks: logout, disabling the account or a password reset ends a session at
once, even for a copy of the cookie.

The console page itself uses the bearer-token API: it asks ``POST /console/session-token``
for a short-lived operator JWT bound to its session (claim ``sid``), holds it in memory
and asks again before it expires. :func:`live_console_session` refuses such a token as
soon as its session ends.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from otasuke.events import DomainError, utcnow
from otasuke.platform.auth import Principal, Role, issue_token
from otasuke.platform.service import Runtime

from ..application import operator_accounts as accounts
from ..domain import operator_account as oa
from ..domain.business_hours import JST
from ..domain.console_labels import CONSOLE_LABELS

COOKIE = "otasuke_console"
IDLE_LIMIT = timedelta(hours=8)
ABSOLUTE_LIMIT = timedelta(hours=12)
API_TOKEN_TTL = timedelta(minutes=15)

WRONG = "メールアドレスまたはパスワードが正しくありません。"
LOCKED = "ログインの失敗が続いたため、{until}までログインできません。時間をおいてから、もう一度お試しください。"
EXPIRED = "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
LOGGED_OUT = "ログアウトしました。"
ENDED = "ログインが無効になりました。もう一度ログインしてください。"
MISSING = "メールアドレスとパスワードを入力してください。"


class ConsoleSession:
    """Litestar's session middleware, built on first use: the cookie key comes from the app's settings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._inner is None:
            settings = Litestar.from_scope(scope).state.settings
            secret = hashlib.sha256(b"otasuke-console-session:" + settings.require_signing_key().encode()).digest()
            config = CookieBackendConfig(
                secret=secret, key=COOKIE, max_age=int(ABSOLUTE_LIMIT.total_seconds()), path="/console",
                httponly=True, samesite="strict",
                # Behind HTTPS in production; plain HTTP in development and tests.
                secure=os.environ.get("OTASUKE_CONSOLE_SECURE_COOKIE", "") in ("1", "true", "yes"),
            )
            self._inner = SessionMiddleware(app=self.app, backend=ClientSideSessionBackend(config=config))
        await self._inner(scope, receive, send)


class LoginForm(msgspec.Struct):
    email: str = ""
    password: str = ""


class SetPasswordIn(msgspec.Struct):
    token: str
    password: str
    password_confirm: str


@dataclass(frozen=True)
class SignedInOperator:
    account: Any  # the operator_accounts row
    session_hash: str


def _cookie_session(request: Request) -> dict:
    return request.session if "session" in request.scope and request.session else {}


async def current_operator(request: Request, runtime: Runtime) -> SignedInOperator | None:
    """The signed-in operator, or None with the cookie cleared.

    ``request.state.console_end`` then says why, for the login page's notice:
    "idle" (no activity for 8 h, or past 12 h) or "ended" (logout, disabled,
    password reset, forged or unknown cookie).
    """
    session = _cookie_session(request)
    sid, account_id = session.get("sid"), session.get("account_id")
    if not sid or not account_id:
        return _refuse(request, "ended") if session else None
    try:
        signed_in = datetime.fromisoformat(session["signed_in_at"])
        seen = datetime.fromisoformat(session["seen_at"])
    except (KeyError, ValueError, TypeError):
        return _refuse(request, "ended")
    session_hash = oa.token_hash(sid)
    live = await accounts.session(runtime, session_hash)
    if live is None or live["account_id"] != account_id or live["partner_id"] != session.get("partner_id"):
        return _refuse(request, "ended")
    now = utcnow()
    past_limit = now >= live["expires_at"] or now - signed_in > ABSOLUTE_LIMIT
    if past_limit or now - seen > IDLE_LIMIT:
        await accounts.sign_out(runtime, live["partner_id"], account_id, session_hash,
                                reason="expired" if past_limit else "idle", actor="system")
        return _refuse(request, "idle")
    row = await accounts.account(runtime, account_id)
    if row is None or row["disabled"] or row["partner_id"] != live["partner_id"]:
        return _refuse(request, "ended")
    request.set_session({**session, "seen_at": now.isoformat()})
    return SignedInOperator(row, session_hash)


def _refuse(request: Request, why: str) -> None:
    request.clear_session()
    request.state.console_end = why
    return None


def login_url(request: Request) -> str:
    """Where a refused console request goes: the login page, with a notice saying why."""
    why = getattr(request.state, "console_end", None)
    if why is None and (request.cookies.get(COOKIE) or request.cookies.get(f"{COOKIE}-0")):
        why = "ended"
    return "/console/login" + {"idle": "?expired=1", "ended": "?ended=1"}.get(why, "")


async def live_console_session(connection: ASGIConnection, _handler: Any) -> None:
    """App-wide guard: an operator token from the console works only while its sign-in session is open."""
    p = connection.scope.get("user")
    if not isinstance(p, Principal) or (p.session is None and not p.subject.startswith("operator:")):
        return  # not a console token (CLI, services, company admins)
    live = await accounts.session(connection.app.state.runtime, p.session) if p.session else None
    if live is None or live["expires_at"] <= utcnow() or p.subject != f"operator:{live['account_id']}":
        raise NotAuthorizedException("the console session has ended")


def _login_page(error: str | None = None, notice: str | None = None, email: str = "", status: int = 200) -> Template:
    return Template(template_name="console_login.html", context={"error": error, "notice": notice, "email": email},
                    status_code=status)


class ConsoleController(Controller):
    path = "/console"
    middleware = [ConsoleSession]
    include_in_schema = False

    @get("/")
    async def console(self, request: Request, runtime: Runtime) -> Template | Redirect:
        op = await current_operator(request, runtime)
        if op is None:
            return Redirect(path=login_url(request))
        return Template(template_name="console.html",
                        context={"display_name": op.account["display_name"], "is_admin": op.account["is_admin"],
                                 "labels": CONSOLE_LABELS})

    @get("/login")
    async def login_page(self, request: Request, expired: bool = False, logged_out: bool = False,
                         ended: bool = False) -> Template:
        return _login_page(notice=EXPIRED if expired else LOGGED_OUT if logged_out else ENDED if ended else None)

    @post("/login", status_code=303)
    async def login(self, request: Request, runtime: Runtime,
                    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Template | Redirect:
        email = data.email.strip()
        if not email or not data.password:
            return _login_page(MISSING, email=email, status=400)
        sid = secrets.token_urlsafe(32)
        now = utcnow()
        try:
            row = await accounts.sign_in(runtime, email, data.password, session_hash=oa.token_hash(sid),
                                         expires_at=now + ABSOLUTE_LIMIT)
        except accounts.LoginRefused as refused:
            if refused.locked_until is not None:
                until = refused.locked_until.astimezone(JST).strftime("%H:%M")
                return _login_page(LOCKED.format(until=until), email=email, status=429)
            return _login_page(WRONG, email=email, status=401)
        # Signing in again in the same browser replaces its session: the old one ends.
        await _end_cookie_session(request, runtime)
        request.set_session({"sid": sid, "account_id": row["account_id"], "partner_id": row["partner_id"],
                             "signed_in_at": now.isoformat(), "seen_at": now.isoformat()})
        return Redirect(path="/console", status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: Request, runtime: Runtime) -> Redirect:
        await _end_cookie_session(request, runtime)
        request.clear_session()
        return Redirect(path="/console/login?logged_out=1", status_code=303)

    @post("/session-token", status_code=200)
    async def session_token(self, request: Request, runtime: Runtime) -> Response[dict]:
        """A short-lived operator JWT for the console's API calls (its subject is the account, ``sid`` its session)."""
        op = await current_operator(request, runtime)
        if op is None:
            return Response({"detail": "not signed in", "login": login_url(request)}, status_code=401)
        row = op.account
        token = issue_token(runtime.settings.require_signing_key(), subject=f"operator:{row['account_id']}",
                            role=Role.OPERATOR, partner_id=row["partner_id"], ttl=API_TOKEN_TTL,
                            session=op.session_hash)
        return Response({"token": token, "expires_in": int(API_TOKEN_TTL.total_seconds()),
                         "account_id": row["account_id"], "display_name": row["display_name"],
                         "partner_id": row["partner_id"], "is_admin": row["is_admin"]})

    @get("/set-password")
    async def set_password_page(self) -> Template:
        return Template(template_name="console_set_password.html")

    @post("/set-password", status_code=200)
    async def set_password(self, data: SetPasswordIn, runtime: Runtime) -> Response[dict]:
        if data.password != data.password_confirm:
            return Response({"errors": {"password_confirm": "確認のパスワードが一致しません。"}}, status_code=400)
        row = await runtime.pool.fetchrow("SELECT email FROM operator_accounts WHERE link_token_hash=$1",
                                          oa.token_hash(data.token))
        problem = oa.password_problem(data.password, row["email"] if row else "")
        if problem:
            return Response({"errors": {"password": problem}}, status_code=400)
        try:
            account = await accounts.set_password(runtime, data.token, data.password)
        except DomainError:
            return Response({"errors": {"token": "このリンクは使用済みか、有効期限が切れています。管理者に新しいリンクを依頼してください。"}},
                            status_code=400)
        return Response({"email": account["email"], "message": "パスワードを設定しました。ログインしてください。"})


async def _end_cookie_session(request: Request, runtime: Runtime) -> None:
    """Record the end of the session this browser's cookie names, if it is still open."""
    session = _cookie_session(request)
    sid, account_id = session.get("sid"), session.get("account_id")
    if not sid or not account_id:
        return
    session_hash = oa.token_hash(sid)
    live = await accounts.session(runtime, session_hash)
    if live is not None and live["account_id"] == account_id:
        await accounts.sign_out(runtime, live["partner_id"], account_id, session_hash, reason="signed_out",
                                actor=f"operator:{account_id}")
