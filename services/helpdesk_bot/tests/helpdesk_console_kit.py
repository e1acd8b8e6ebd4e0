"""Helpers of the console tests: operator accounts with a password, console cookies, the accounts' events."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig

from otasuke.events import AggregateRef, Tenant

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


def cookie_backend(helpdesk) -> ClientSideSessionBackend:
    """The console cookie's sealing, with the deployment's key: to read a real cookie or forge one in a test."""
    secret = hashlib.sha256(b"otasuke-console-session:" + helpdesk.runtime.settings.signing_key.encode()).digest()
    return ClientSideSessionBackend(CookieBackendConfig(secret=secret, key="otasuke_console", path="/console"))


async def console_cookie(page) -> dict:
    """The browser's console session cookie (name, value, flags)."""
    return next(c for c in await page.context.cookies() if c["name"].startswith("otasuke_console"))


def replay(helpdesk, cookie_value: str) -> httpx.AsyncClient:
    """A client that presents a copied console cookie, as someone who captured it would."""
    return httpx.AsyncClient(base_url=helpdesk.url, timeout=30, headers={"Cookie": f"otasuke_console={cookie_value}"})


async def http_sign_in(helpdesk, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A client of its own (its own cookie jar) signed in through the login form."""
    client = httpx.AsyncClient(base_url=helpdesk.url, timeout=30)
    resp = await client.post("/console/login", data={"email": email, "password": password})
    assert resp.status_code == 303 and resp.headers["location"] == "/console", resp.text
    return client


async def operator_events(helpdesk, partner: str, account_id: str) -> list:
    """The account's events in order, as an auditor replays them."""
    events, _ = await helpdesk.runtime.store.load(AggregateRef("helpdesk", Tenant(partner), "operator", account_id))
    return [r.envelope for r in events]
