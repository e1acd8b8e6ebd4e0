"""A report link that opens in LINE or a phone browser without logging in.

``POST /api/v1/diagnoses/{id}/report-link`` (authenticated, the company's own
staff or the help desk acting for it) returns an absolute URL under
``OTASUKE_DIAGNOSIS_PUBLIC_URL`` whose query carries a signed token for that one
report, valid ``OTASUKE_DIAGNOSIS_REPORT_LINK_HOURS`` hours. The token has no
role claim, so it is no API credential: it opens this report (HTML, and the
PDF one tap away) and nothing else.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jwt
from litestar import Request, Response, get, post

from otasuke.platform.auth import Role, principal_of, require_role
from otasuke.platform.documents import html_to_pdf
from otasuke.platform.service import Runtime
from otasuke.platform.settings import env

from ..application import commands, read_model, report
from .api.schemas import LinkOut

PURPOSE = "diagnosis_report"
PUBLIC_PATH = "/report"
ALGORITHM = "HS256"

EXPIRED = "このリンクは有効期限が切れています。チャットで「診断結果を見たい」と送っていただくと、新しいリンクをお送りします。"
INVALID = "このリンクは正しくないか、途中で切れているようです。チャットで届いたリンクをもう一度開くか、「診断結果を見たい」と送ってください。"
NOT_FOUND = "このリンクのレポートは見つかりませんでした。チャットで「診断結果を見たい」と送ってください。"


def public_base(rt: Runtime) -> str:
    return (env("DIAGNOSIS_PUBLIC_URL") or rt.settings.url("diagnosis")).rstrip("/")


def link_ttl() -> timedelta:
    return timedelta(hours=float(env("DIAGNOSIS_REPORT_LINK_HOURS", "24")))


def issue(key: str, diagnosis_id: str, partner_id: str, company_id: str, expires: datetime) -> str:
    claims = {"purpose": PURPOSE, "did": diagnosis_id, "pid": partner_id, "cid": company_id,
              "exp": int(expires.timestamp())}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def _page(status: int, message: str) -> Response:
    html = ("<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>診断レポート</title></head>"
            "<body style='font-family: sans-serif; padding: 1.5em; line-height: 1.7'>"
            f"<h1 style='font-size: 1.2em'>診断レポートを開けませんでした</h1><p>{message}</p></body></html>")
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")


@post("/api/v1/diagnoses/{diagnosis_id:str}/report-link", status_code=201, tags=["diagnosis"])
async def create_report_link(diagnosis_id: str, request: Request, runtime: Runtime) -> LinkOut:
    """An absolute, expiring link to this one report, for a chat message."""
    principal = principal_of(request)
    require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN, Role.SERVICE)
    located = await commands.locate(runtime, principal, diagnosis_id)  # 404 for other tenants
    expires = datetime.now(UTC) + link_ttl()
    token = issue(runtime.settings.require_signing_key(), diagnosis_id, located.row["partner_id"],
                  located.row["company_id"], expires)
    url = f"{public_base(runtime)}{PUBLIC_PATH}/{quote(diagnosis_id)}?t={token}"
    return LinkOut(url=url, expires_at=expires.isoformat(timespec="seconds"))


async def _located(runtime: Runtime, diagnosis_id: str, token: str) -> commands.Located | Response:
    try:
        claims = jwt.decode(token, runtime.settings.require_signing_key(), algorithms=[ALGORITHM],
                            options={"require": ["exp", "did", "cid", "pid", "purpose"]})
    except jwt.ExpiredSignatureError:
        return _page(410, EXPIRED)
    except jwt.PyJWTError:
        return _page(403, INVALID)
    if claims["purpose"] != PURPOSE:
        return _page(403, INVALID)
    row = await read_model.find(runtime.pool, diagnosis_id)
    # The token names one report of one company: any other id is "not found", never another company's report.
    if row is None or claims["did"] != diagnosis_id or (row["partner_id"], row["company_id"]) != (claims["pid"], claims["cid"]):
        return _page(404, NOT_FOUND)
    return commands.Located(commands.ref_for(row["partner_id"], row["company_id"], diagnosis_id), row)


@get(f"{PUBLIC_PATH}/{{diagnosis_id:str}}", include_in_schema=False)
async def report_page(diagnosis_id: str, runtime: Runtime, t: str = "") -> Response:
    located = await _located(runtime, diagnosis_id, t)
    if isinstance(located, Response):
        return located
    ctx = await report.context(runtime, located)
    ctx["pdf_url"] = f"{PUBLIC_PATH}/{quote(diagnosis_id)}/pdf?t={t}"
    html = await asyncio.to_thread(report.render, ctx)
    return Response(html, media_type="text/html; charset=utf-8")


@get(f"{PUBLIC_PATH}/{{diagnosis_id:str}}/pdf", include_in_schema=False)
async def report_pdf_page(diagnosis_id: str, runtime: Runtime, t: str = "") -> Response:
    located = await _located(runtime, diagnosis_id, t)
    if isinstance(located, Response):
        return located
    html = await asyncio.to_thread(report.render, await report.context(runtime, located))
    pdf = await asyncio.to_thread(html_to_pdf, html)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="diagnosis-{diagnosis_id}.pdf"'})


routes = [create_report_link, report_page, report_pdf_page]
PUBLIC_PATHS = [f"^{PUBLIC_PATH}/[^/]+$", f"^{PUBLIC_PATH}/[^/]+/pdf$"]
