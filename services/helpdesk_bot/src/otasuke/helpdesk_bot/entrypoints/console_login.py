"""The operator console's sign-in: login page, session cookie, set-password page, logout.

The session is Litestar's client-side session (an AES-GCM encrypted cookie,
HttpOnly, SameSite=Strict, path /console) keyed from the deployment's signing
key, so it survives restarts and works behind several replicas. The console
page itself keeps using the bearer-token API: it asks ``POST /console/session-token``
for a short-lived operator JWT, holds it in memory and asks again before it expires.
Every refresh re-checks the account (disabled accounts are out at once) and the
idle and absolute limits.
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from otasuke.events import DomainError, utcnow
from otasuke.platform.auth import Role, issue_token
from otasuke.platform.service import Runtime

from ..application import operator_accounts as accounts
from ..domain import operator_account as oa
from ..domain.business_hours import JST

COOKIE = "otasuke_console"
IDLE_LIMIT = timedelta(hours=8)
ABSOLUTE_LIMIT = timedelta(hours=12)
API_TOKEN_TTL = timedelta(minutes=15)

WRONG = "メールアドレスまたはパスワードが正しくありません。"
LOCKED = "ログインの失敗が続いたため、{until}までログインできません。時間をおいてから、もう一度お試しください。"
EXPIRED = "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
LOGGED_OUT = "ログアウトしました。"
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


async def current_operator(request: Request, runtime: Runtime) -> Any | None:
    """The signed-in account, or None (and the session cleared) when it is missing, expired or disabled."""
    session = request.session if "session" in request.scope else {}
    account_id = session.get("account_id") if session else None
    if not account_id:
        return None
    now = utcnow()
    try:
        signed_in = datetime.fromisoformat(session["signed_in_at"])
        seen = datetime.fromisoformat(session["seen_at"])
    except (KeyError, ValueError):
        request.clear_session()
        return None
    row = await accounts.account(runtime, account_id)
    if (row is None or row["disabled"] or row["partner_id"] != session.get("partner_id")
            or now - seen > IDLE_LIMIT or now - signed_in > ABSOLUTE_LIMIT):
        request.clear_session()
        return None
    request.set_session({**session, "seen_at": now.isoformat()})
    return row


def _login_page(error: str | None = None, notice: str | None = None, email: str = "", status: int = 200) -> Template:
    return Template(template_name="console_login.html", context={"error": error, "notice": notice, "email": email},
                    status_code=status)


class ConsoleController(Controller):
    path = "/console"
    middleware = [ConsoleSession]
    include_in_schema = False

    @get("/")
    async def console(self, request: Request, runtime: Runtime) -> Template | Redirect:
        row = await current_operator(request, runtime)
        if row is None:
            expired = bool(request.cookies.get(COOKIE) or request.cookies.get(f"{COOKIE}-0"))
            return Redirect(path="/console/login" + ("?expired=1" if expired else ""))
        return Template(template_name="console.html", context={"display_name": row["display_name"]})

    @get("/login")
    async def login_page(self, request: Request, expired: bool = False, logged_out: bool = False) -> Template:
        return _login_page(notice=EXPIRED if expired else LOGGED_OUT if logged_out else None)

    @post("/login", status_code=303)
    async def login(self, request: Request, runtime: Runtime,
                    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Template | Redirect:
        email = data.email.strip()
        if not email or not data.password:
            return _login_page(MISSING, email=email, status=400)
        try:
            row = await accounts.sign_in(runtime, email, data.password)
        except accounts.LoginRefused as refused:
            if refused.locked_until is not None:
                until = refused.locked_until.astimezone(JST).strftime("%H:%M")
                return _login_page(LOCKED.format(until=until), email=email, status=429)
            return _login_page(WRONG, email=email, status=401)
        now = utcnow().isoformat()
        request.set_session({"account_id": row["account_id"], "partner_id": row["partner_id"],
                             "signed_in_at": now, "seen_at": now})
        return Redirect(path="/console", status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: Request) -> Redirect:
        request.clear_session()
        return Redirect(path="/console/login?logged_out=1", status_code=303)

    @post("/session-token", status_code=200)
    async def session_token(self, request: Request, runtime: Runtime) -> Response[dict]:
        """A short-lived operator JWT for the console's API calls (its subject is the account)."""
        row = await current_operator(request, runtime)
        if row is None:
            return Response({"detail": "not signed in"}, status_code=401)
        token = issue_token(runtime.settings.require_signing_key(), subject=f"operator:{row['account_id']}",
                            role=Role.OPERATOR, partner_id=row["partner_id"], ttl=API_TOKEN_TTL)
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
