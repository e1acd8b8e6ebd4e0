"""`otasuke helpdesk operator …`: a partner administrator manages the console accounts of its staff.

A thin client of the running help desk's API (`/api/v1/operator-accounts`), with a
short-lived operator token signed by the deployment's key, so the rules live in one place.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import httpx
import typer

from otasuke.platform.auth import Role, issue_token
from otasuke.platform.settings import Settings, ensure_signing_key

helpdesk = typer.Typer(no_args_is_help=True, help="Help desk: operator accounts of the console.")
operator = typer.Typer(no_args_is_help=True, help="Console accounts of a partner's staff.")
helpdesk.add_typer(operator, name="operator")

Partner = Annotated[str, typer.Option(help="Partner id (the accounts belong to it)")]


def _client(partner: str) -> httpx.Client:
    s = Settings.from_env()
    key = s.signing_key or ensure_signing_key(s.data_dir)
    token = issue_token(key, subject="cli:partner-admin", role=Role.OPERATOR, partner_id=partner,
                        ttl=timedelta(minutes=5))
    return httpx.Client(base_url=s.url("helpdesk_bot"), headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _check(resp: httpx.Response) -> dict | list:
    if resp.status_code >= 400:
        typer.echo(f"error {resp.status_code}: {resp.json().get('detail', resp.text) if resp.content else ''}", err=True)
        raise typer.Exit(1)
    return resp.json()


@operator.command("add")
def add(partner: Partner,
        email: Annotated[str, typer.Option(help="The operator's e-mail address (their login)")],
        name: Annotated[str, typer.Option(help="Display name shown in the console and timelines")],
        admin: Annotated[bool, typer.Option(help="May manage the partner's other accounts")] = False) -> None:
    """Create an account and print its one-time set-password link (valid 72 hours)."""
    with _client(partner) as http:
        out = _check(http.post("/api/v1/operator-accounts/",
                               json={"email": email, "display_name": name, "is_admin": admin}))
    typer.echo(f"account {out['account_id']} created for {email}")
    typer.echo(f"set-password link (send it to {name}; valid until {out['expires_at']}):")
    typer.echo(out["set_password_url"])


@operator.command("reset-password")
def reset_password(partner: Partner, account_id: Annotated[str, typer.Argument()]) -> None:
    """Print a new one-time set-password link (the old one stops working)."""
    with _client(partner) as http:
        out = _check(http.post(f"/api/v1/operator-accounts/{account_id}/password-link"))
    typer.echo(out["set_password_url"])


@operator.command("disable")
def disable(partner: Partner, account_id: Annotated[str, typer.Argument()],
            reason: Annotated[str, typer.Option(help="Why (kept in the audit trail)")]) -> None:
    """Stop an account signing in; its open console session ends within minutes."""
    with _client(partner) as http:
        _check(http.post(f"/api/v1/operator-accounts/{account_id}/disable", json={"reason": reason}))
    typer.echo(f"account {account_id} disabled")


@operator.command("list")
def list_accounts(partner: Partner) -> None:
    """The partner's accounts."""
    with _client(partner) as http:
        for a in _check(http.get("/api/v1/operator-accounts/")):
            state = "disabled" if a["disabled"] else ("active" if a["has_password"] else "waiting for password")
            typer.echo(f"{a['account_id']}  {a['email']}  {a['display_name']}  {'admin ' if a['is_admin'] else ''}{state}")
