"""The console's account screen: a partner administrator manages its partner's operator accounts.

Server-rendered forms on the console's session cookie (SameSite=Strict, so
another site cannot post them). Only accounts with ``is_admin`` get the page;
every action goes through ``application/operator_accounts.py`` with the
administrator as actor, and only on accounts of the administrator's partner
(another partner's account is "not found"). A set-password link is shown once,
in the answer to the action that issued it, never stored or cached.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from otasuke.events import DomainError
from otasuke.platform.service import Runtime

from ..application import operator_accounts as accounts
from ..domain import operator_account as oa
from ..domain.business_hours import JST
from .api.operator_accounts import set_password_url
from .console_login import ConsoleSession, SignedInOperator, current_operator, login_url

NO_STORE = {"Cache-Control": "no-store"}

ADMINS_ONLY = "この画面は管理者だけが使えます。"
NOT_FOUND = "アカウントが見つかりません。"
BAD_EMAIL = "メールアドレスの形式が正しくありません。"
NO_NAME = "名前を入力してください。"
EXISTS = "このメールアドレスのアカウントはすでにあります。パスワードを忘れた場合は「パスワードを再設定」を使ってください。"
REFUSED_EMAIL = "このメールアドレスは登録できません。別のメールアドレスを指定してください。"
NOT_YOURSELF = "ご自身のアカウントはこの画面では変更できません。"
NO_REASON = "停止の理由を入力してください。"
ALREADY_DISABLED = "このアカウントは停止されています。"
CREATED = "{name}さんのアカウントを作成しました。下のリンクを本人に渡して、パスワードを設定してもらってください。"
RESET = "{name}さんのパスワード再設定用のリンクを発行しました。ログイン中の画面はすべてログアウトされました。下のリンクを本人に渡してください。"
DISABLED = "{name}さんのアカウントを停止しました。ログイン中の画面はすべてログアウトされました。"


class AddForm(msgspec.Struct):
    email: str = ""
    display_name: str = ""
    is_admin: str = ""


class DisableForm(msgspec.Struct):
    reason: str = ""


def _when(at: datetime | None) -> str:
    return at.astimezone(JST).strftime("%Y/%m/%d %H:%M") if at else "なし"


def _status(row: Any) -> str:
    if row["disabled"]:
        return "停止中"
    return "利用中" if row["password_hash"] is not None else "パスワード未設定"


def _message(title: str, message: str, status: int) -> Template:
    return Template(template_name="console_message.html", context={"title": title, "message": message},
                    status_code=status, headers=NO_STORE)


async def _page(runtime: Runtime, me: SignedInOperator, *, notice: str | None = None, error: str | None = None,
                link: accounts.PasswordLink | None = None, form: AddForm | None = None, status: int = 200) -> Template:
    rows = await accounts.accounts_of(runtime, me.account["partner_id"])
    listed = [{"account_id": r["account_id"], "display_name": r["display_name"], "email": r["email"],
               "is_admin": r["is_admin"], "disabled": r["disabled"], "status": _status(r),
               "last_sign_in": _when(r["last_sign_in_at"]), "is_me": r["account_id"] == me.account["account_id"]}
              for r in rows]
    shown_link = None
    if link is not None:
        shown_link = {"url": set_password_url(runtime, link), "expires": _when(link.expires_at)}
    return Template(template_name="console_accounts.html", status_code=status, headers=NO_STORE, context={
        "me": me.account, "accounts": listed, "notice": notice, "error": error, "link": shown_link,
        "form": form or AddForm()})


async def _admin(request: Request, runtime: Runtime) -> SignedInOperator | Template | Redirect:
    """The signed-in administrator, or what to answer instead (login page, 403)."""
    op = await current_operator(request, runtime)
    if op is None:
        return Redirect(path=login_url(request))
    if not op.account["is_admin"]:
        return _message("アカウント管理", ADMINS_ONLY, 403)
    return op


async def _target(runtime: Runtime, me: SignedInOperator, account_id: str) -> Any | None:
    """An account of the administrator's own partner; another partner's is as good as absent."""
    row = await accounts.account(runtime, account_id)
    return row if row is not None and row["partner_id"] == me.account["partner_id"] else None


async def _acted_on(runtime: Runtime, me: SignedInOperator, account_id: str) -> Any:
    """The account an action targets, or the page to answer instead: absent (or another
    partner's) and one's own account are refused alike for every action."""
    row = await _target(runtime, me, account_id)
    if row is None:
        return _message("アカウント管理", NOT_FOUND, 404)
    if row["account_id"] == me.account["account_id"]:
        return await _page(runtime, me, error=NOT_YOURSELF, status=400)
    return row


class ConsoleAccountsController(Controller):
    path = "/console/accounts"
    middleware = [ConsoleSession]
    include_in_schema = False

    @get("/")
    async def accounts_page(self, request: Request, runtime: Runtime) -> Template | Redirect:
        me = await _admin(request, runtime)
        if not isinstance(me, SignedInOperator):
            return me
        return await _page(runtime, me)

    @post("/", status_code=200)
    async def add(self, request: Request, runtime: Runtime,
                  data: Annotated[AddForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Template | Redirect:
        me = await _admin(request, runtime)
        if not isinstance(me, SignedInOperator):
            return me
        email, name = oa.normalise_email(data.email), data.display_name.strip()
        error = NO_NAME if not name else BAD_EMAIL if not oa.EMAIL.match(email) else None
        if error:
            return await _page(runtime, me, error=error, form=data, status=400)
        try:
            link = await accounts.create_account(runtime, me.account["partner_id"], email=email, display_name=name,
                                                 is_admin=bool(data.is_admin), by=f"operator:{me.account['account_id']}")
        except DomainError:
            # Taken by another partner (or a disabled account): say no more than that it cannot be used.
            return await _page(runtime, me, error=REFUSED_EMAIL, form=data, status=400)
        if link is None:
            return await _page(runtime, me, error=EXISTS, form=data, status=409)
        return await _page(runtime, me, notice=CREATED.format(name=name), link=link)

    @post("/{account_id:str}/reset", status_code=200)
    async def reset(self, account_id: str, request: Request, runtime: Runtime) -> Template | Redirect:
        me = await _admin(request, runtime)
        if not isinstance(me, SignedInOperator):
            return me
        row = await _acted_on(runtime, me, account_id)
        if isinstance(row, Template):
            return row
        if row["disabled"]:
            return await _page(runtime, me, error=ALREADY_DISABLED, status=400)
        link = await accounts.issue_password_link(runtime, row["partner_id"], account_id,
                                                  by=f"operator:{me.account['account_id']}")
        return await _page(runtime, me, notice=RESET.format(name=row["display_name"]), link=link)

    @post("/{account_id:str}/disable", status_code=200)
    async def disable(self, account_id: str, request: Request, runtime: Runtime,
                      data: Annotated[DisableForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Template | Redirect:
        me = await _admin(request, runtime)
        if not isinstance(me, SignedInOperator):
            return me
        row = await _acted_on(runtime, me, account_id)
        if isinstance(row, Template):
            return row
        if not data.reason.strip():
            return await _page(runtime, me, error=NO_REASON, status=400)
        await accounts.disable(runtime, row["partner_id"], account_id, reason=data.reason.strip(),
                               by=f"operator:{me.account['account_id']}")
        return await _page(runtime, me, notice=DISABLED.format(name=row["display_name"]))
