"""Helpers of the console-login and application-form tests: operator accounts with a password."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from otasuke.events import Tenant

from otasuke.helpdesk_bot.application import tickets

PASSWORD = "kujira-ga-sora-wo-tobu-7"


@dataclass
class Operator:
    account_id: str
    email: str
    name: str
    password: str = PASSWORD


def fragment_token(url: str) -> str:
    return urlsplit(url).fragment.removeprefix("token=")


async def operator_with_password(helpdesk, auth_headers, partner: str, email: str, name: str, *,
                                 admin: bool = False) -> Operator:
    """An account created by the partner's administrator, its password set through the one-time link."""
    c = helpdesk.client
    resp = await c.post("/api/v1/operator-accounts", headers=auth_headers("operator", partner_id=partner),
                        json={"email": email, "display_name": name, "is_admin": admin})
    assert resp.status_code == 201, resp.text
    link = resp.json()
    token = fragment_token(link["set_password_url"])
    done = await c.post("/console/set-password", json={"token": token, "password": PASSWORD, "password_confirm": PASSWORD})
    assert done.status_code == 200, done.text
    return Operator(link["account_id"], email, name)


async def open_ticket(helpdesk, partner: str, company: str, summary: str) -> str:
    return await tickets.open_ticket(helpdesk.runtime, Tenant(partner, company), source="user_request", summary=summary,
                                     conversation_id=None, channel=None, actor="test")


async def sign_in(page, url: str, email: str, password: str) -> None:
    await page.goto(url + "/console")
    await page.wait_for_selector("form[action='/console/login']")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("#signin")
