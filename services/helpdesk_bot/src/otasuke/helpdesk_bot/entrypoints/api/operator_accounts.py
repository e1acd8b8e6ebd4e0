"""Console accounts of one partner's staff, managed by its administrators (and by `otasuke helpdesk operator`)."""
from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException

from otasuke.platform.auth import Principal, Role, principal_of, require_role
from otasuke.platform.service import Runtime

from ...application import operator_accounts as accounts
from ...domain import operator_account as oa


class AccountIn(msgspec.Struct, kw_only=True):
    email: str
    display_name: str
    is_admin: bool = False


class DisableIn(msgspec.Struct, kw_only=True):
    reason: str


class AccountOut(msgspec.Struct, kw_only=True):
    account_id: str
    email: str
    display_name: str
    is_admin: bool
    has_password: bool
    disabled: bool
    last_sign_in_at: str | None = None


class PasswordLinkOut(msgspec.Struct, kw_only=True):
    account_id: str
    set_password_url: str
    expires_at: str


def _out(r) -> AccountOut:
    return AccountOut(account_id=r["account_id"], email=r["email"], display_name=r["display_name"],
                      is_admin=r["is_admin"], has_password=r["password_hash"] is not None, disabled=r["disabled"],
                      last_sign_in_at=r["last_sign_in_at"].isoformat() if r["last_sign_in_at"] else None)


async def _require_admin(runtime: Runtime, p: Principal) -> None:
    """Operators signed in through the console must be administrators; CLI and service tokens hold the key already."""
    require_role(p, Role.OPERATOR, Role.SERVICE)
    if p.subject.startswith("operator:"):
        row = await accounts.account(runtime, p.subject.removeprefix("operator:"))
        if row is None or not row["is_admin"] or row["disabled"] or row["partner_id"] != p.partner_id:
            raise PermissionDeniedException("only the partner's administrators manage operator accounts")


async def _own_account(runtime: Runtime, p: Principal, account_id: str):
    row = await accounts.account(runtime, account_id)
    if row is None or row["partner_id"] != p.partner_id:
        raise NotFoundException("not found")
    return row


def set_password_url(runtime: Runtime, link: accounts.PasswordLink) -> str:
    """The link handed to the operator; the token rides in the fragment, which browsers never send to a server."""
    return f"{runtime.settings.url('helpdesk_bot')}/console/set-password#token={link.token}"


def _link(runtime: Runtime, link: accounts.PasswordLink) -> PasswordLinkOut:
    url = set_password_url(runtime, link)
    return PasswordLinkOut(account_id=link.account_id, set_password_url=url,
                           expires_at=link.expires_at.isoformat(timespec="seconds"))


class OperatorAccountController(Controller):
    path = "/api/v1/operator-accounts"
    tags = ["operator accounts"]

    @post("/", status_code=201)
    async def create(self, data: AccountIn, request: Request, runtime: Runtime) -> PasswordLinkOut:
        """Create an account; the answer carries its one-time set-password link (shown once, valid 72 h)."""
        p = principal_of(request)
        await _require_admin(runtime, p)
        if not oa.EMAIL.match(oa.normalise_email(data.email)):
            raise ClientException("email is not an e-mail address")
        link = await accounts.create_account(runtime, p.partner_id, email=data.email, display_name=data.display_name,
                                             is_admin=data.is_admin, by=p.subject)
        if link is None:
            raise ClientException("this account already exists; issue a new link with POST …/{account_id}/password-link",
                                  status_code=409)
        return _link(runtime, link)

    @get("/")
    async def list_accounts(self, request: Request, runtime: Runtime) -> list[AccountOut]:
        p = principal_of(request)
        require_role(p, Role.OPERATOR, Role.SERVICE)
        rows = await runtime.pool.fetch("SELECT * FROM operator_accounts WHERE partner_id=$1 ORDER BY display_name",
                                        p.partner_id)
        return [_out(r) for r in rows]

    @post("/{account_id:str}/password-link", status_code=201)
    async def password_link(self, account_id: str, request: Request, runtime: Runtime) -> PasswordLinkOut:
        """A new one-time link (forgotten password); the previous link stops working and the account's sessions end."""
        p = principal_of(request)
        await _require_admin(runtime, p)
        row = await _own_account(runtime, p, account_id)
        return _link(runtime, await accounts.issue_password_link(runtime, row["partner_id"], account_id, by=p.subject))

    @post("/{account_id:str}/disable", status_code=200)
    async def disable(self, account_id: str, data: DisableIn, request: Request, runtime: Runtime) -> AccountOut:
        p = principal_of(request)
        await _require_admin(runtime, p)
        row = await _own_account(runtime, p, account_id)
        await accounts.disable(runtime, row["partner_id"], account_id, reason=data.reason, by=p.subject)
        return _out(await accounts.account(runtime, account_id))
