"""The application form: a public page, the link that opens it for one company, and its submission.

Like the diagnosis form, the page holds no data: it calls the authenticated API
with a company-admin token carried in the link's fragment (``#company=…&token=…``),
which browsers never send to a server. The link comes from the chat bot (for the
conversation's company) or from the operator console (applications by phone).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.response import Template

from otasuke.events import Tenant, utcnow
from otasuke.platform.auth import Role, issue_token, principal_of, require_role
from otasuke.platform.service import Runtime

from ..application import enrolment
from ..domain import application_form as af
from ..domain.business_hours import JST
from .api.applications import _company_for, _out

FORM_PATH = "/apply"
LINK_TTL = timedelta(hours=2)
LINK_SUBJECT = "apply-form:"


class LinkOut(msgspec.Struct, kw_only=True):
    url: str
    expires_at: str


@get(FORM_PATH, include_in_schema=False)
async def apply_form_page() -> Template:
    return Template(template_name="apply_form.html")


class ApplicationLinkController(Controller):
    path = "/api/v1/companies"
    tags = ["applications"]

    @post("/{company_id:str}/application-link", status_code=201)
    async def create(self, company_id: str, request: Request, runtime: Runtime) -> LinkOut:
        """A link to the application form for one company, valid two hours.

        Operators open it for phone applications; the chat bot asks for it with the
        conversation's company token. A form link cannot mint another one.
        """
        p = principal_of(request)
        require_role(p, Role.OPERATOR, Role.SERVICE, Role.COMPANY_ADMIN)
        if p.subject.startswith(LINK_SUBJECT):
            raise PermissionDeniedException("a form link cannot issue another link")
        company = await _company_for(runtime, p, company_id)
        token = issue_token(runtime.settings.require_signing_key(), subject=f"{LINK_SUBJECT}{p.subject}"[:200],
                            role=Role.COMPANY_ADMIN, partner_id=company["partner_id"], company_id=company_id,
                            ttl=LINK_TTL)
        url = f"{runtime.settings.url('helpdesk_bot')}{FORM_PATH}#company={company_id}&token={token}"
        return LinkOut(url=url, expires_at=(datetime.now(UTC) + LINK_TTL).isoformat(timespec="seconds"))


class ApplicationFormController(Controller):
    path = "/api/v1/application-forms"
    tags = ["applications"]

    @post("/", status_code=201)
    async def submit(self, data: dict[str, Any], request: Request, runtime: Runtime) -> Response[dict]:
        """One form, one application per chosen service (the chat's events); a resubmission is the same applications."""
        p = principal_of(request)
        company = await _company_for(runtime, p, data.get("company_id"))
        form, errors = af.check(data, today=utcnow().astimezone(JST).date())
        if form is None:
            return Response({"detail": "入力内容を確認してください。", "errors": errors}, status_code=400)
        tenant = Tenant(company["partner_id"], company["company_id"])
        ids = [await enrolment.apply(
            runtime, tenant, service=service, channel="form",
            devices=form.devices if service in af.NEEDS_SITE_VISIT else None, note=form.note(), actor=p.subject,
            command_id=f"form-{form.submission_id}-{service}",
            # Survey dates matter only where someone comes on site.
            preferred_dates=form.survey_dates() if service in af.NEEDS_SITE_VISIT else [],
            contact_name=form.contact_name, contact_phone=form.contact_phone) for service in form.services]
        rows = await runtime.pool.fetch("SELECT * FROM applications WHERE application_id = ANY($1::text[])", ids)
        return Response({"message": af.confirmation(form), "applications": [_out(r) for r in rows]}, status_code=201)
