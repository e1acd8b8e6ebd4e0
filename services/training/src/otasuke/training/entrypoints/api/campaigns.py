"""Campaigns API: templates, create, lifecycle, results and recipients (all authenticated)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import ClientException, NotFoundException, ValidationException

from otasuke.events import DomainError, Tenant
from otasuke.events.envelope import InvalidId, check_id, new_id
from otasuke.events.schemas import training as ev
from otasuke.platform.auth import Principal, Role, principal_of, require_company, require_role
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ...application import campaigns as commands
from ...application import tracking
from ...application.read_model import RESULTS_PROJECTION
from ...application.results import BadCursor, CampaignResults, RecipientPage, campaign_results, recipient_page
from ...domain.lures import LURES
from ...domain.target_list import InvalidTargets, Target, parse_csv, validate


class TemplateOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    subject: str
    sender_name: str
    has_form: bool
    clues: list[str]


class RecipientIn(msgspec.Struct, kw_only=True):
    email: str
    name: str = ""
    department: str = ""
    position: str = ""
    manager: str = ""


class ScheduleIn(msgspec.Struct, kw_only=True):
    mode: ev.ScheduleMode = "spread"
    """``spread``: a random business-hours moment per recipient; ``immediate``: now."""
    start: datetime | None = None
    end: datetime | None = None
    """Window for ``spread`` (default: from now for 5 days)."""


class SenderIn(msgspec.Struct, kw_only=True):
    name: str
    address: str


class CampaignIn(msgspec.Struct, kw_only=True):
    company_id: str
    name: str
    template_id: str
    recipients: list[RecipientIn] = []
    recipients_csv: str | None = None
    """Alternative to ``recipients``: a CSV export (email/メールアドレス, name/氏名, department/部署, position/役職, manager/上長)."""
    schedule: ScheduleIn = msgspec.field(default_factory=ScheduleIn)
    sender: SenderIn | None = None
    charset: Literal["utf-8", "iso-2022-jp"] = "utf-8"
    campaign_id: str | None = None
    """Optional client-chosen id: sending the same request again creates nothing new."""


class CampaignOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    name: str
    template_id: str
    status: str
    mode: str
    recipients: int
    window_start: datetime
    window_end: datetime
    created_at: datetime
    duplicates_ignored: int = 0


class InvitationIn(msgspec.Struct, kw_only=True):
    stage: ev.LearningStage


class ReportIn(msgspec.Struct, kw_only=True):
    email: str
    """The recipient who reported the mail to the admin (by phone, in person, by forwarding it)."""


def campaign_out(row, duplicates: int = 0) -> CampaignOut:
    return CampaignOut(
        id=row["campaign_id"], company_id=row["company_id"], name=row["name"], template_id=row["template_id"],
        status=row["status"], mode=row["mode"], recipients=row["recipients_planned"],
        window_start=row["window_start"], window_end=row["window_end"], created_at=row["created_at"],
        duplicates_ignored=duplicates,
    )


async def campaign_for(runtime: Runtime, request: Request, campaign_id: str):
    row = await runtime.pool.fetchrow("SELECT * FROM campaigns WHERE campaign_id=$1", campaign_id)
    if row is None:
        raise NotFoundException("no such campaign")
    require_company(principal_of(request), row["partner_id"], row["company_id"])
    return row


def _manager(principal: Principal) -> None:
    require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN)


@get("/api/v1/templates", tags=["templates"])
async def list_templates(request: Request) -> list[TemplateOut]:
    principal_of(request)
    return [
        TemplateOut(id=l.id, name=l.name, subject=l.subject, sender_name=l.sender_name, has_form=l.has_form,
                    clues=list(l.clues))
        for l in LURES.values()
    ]


class CampaignController(Controller):
    path = "/api/v1/campaigns"
    tags = ["campaigns"]

    @post("/", status_code=201)
    async def create(self, data: CampaignIn, request: Request, runtime: Runtime) -> CampaignOut:
        principal = principal_of(request)
        _manager(principal)
        company = await get_company(runtime.pool, data.company_id)
        if company is None:
            raise NotFoundException(f"company {data.company_id!r} is not registered")
        require_company(principal, company["partner_id"], company["company_id"])
        targets = [Target(**msgspec.structs.asdict(r)) for r in data.recipients]
        try:
            if data.recipients_csv:
                targets += parse_csv(data.recipients_csv)
            targets, duplicates = validate(targets)
        except InvalidTargets as exc:
            raise ValidationException(str(exc)) from exc
        if not data.name.strip():
            raise ValidationException("name must not be empty")
        campaign_id = data.campaign_id or request.headers.get("idempotency-key") or new_id()
        try:
            check_id(campaign_id, "campaign_id")
        except InvalidId as exc:
            raise ValidationException(str(exc)) from exc
        existing = await runtime.pool.fetchrow("SELECT * FROM campaigns WHERE campaign_id=$1", campaign_id)
        if existing is not None and (existing["partner_id"], existing["company_id"]) != (principal.partner_id, data.company_id):
            raise ClientException("campaign_id already in use")
        now = datetime.now(UTC)
        start = data.schedule.start or now
        end = data.schedule.end or start + timedelta(days=5)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValidationException("schedule start and end need a time zone (e.g. 2025-06-02T09:00:00+09:00)")
        config = runtime.extras["training_config"]
        seq = await commands.create_campaign(
            runtime, Tenant(principal.partner_id, data.company_id), campaign_id=campaign_id, name=data.name.strip(),
            template_id=data.template_id, targets=targets, mode=data.schedule.mode, window_start=start,
            window_end=end, sender=ev.Sender(name=data.sender.name, address=data.sender.address) if data.sender else None,
            charset=data.charset, sender_domain=config.sender_domain, actor=principal.subject, now=now,
        )
        await runtime.wait_for(RESULTS_PROJECTION, seq, timeout=60)
        sender = runtime.extras.get("sender")
        if sender is not None:
            sender.wake()
        row = await runtime.pool.fetchrow("SELECT * FROM campaigns WHERE campaign_id=$1", campaign_id)
        return campaign_out(row, duplicates)

    @get("/")
    async def list_campaigns(self, request: Request, runtime: Runtime, company_id: str | None = None) -> list[CampaignOut]:
        principal = principal_of(request)
        if not principal.is_partner_staff:
            company_id = principal.company_id
        rows = await runtime.pool.fetch(
            """SELECT * FROM campaigns WHERE partner_id=$1 AND ($2::text IS NULL OR company_id=$2)
               ORDER BY created_at DESC LIMIT 200""",
            principal.partner_id, company_id,
        )
        return [campaign_out(r) for r in rows]

    @get("/{campaign_id:str}")
    async def get_one(self, campaign_id: str, request: Request, runtime: Runtime) -> CampaignOut:
        return campaign_out(await campaign_for(runtime, request, campaign_id))

    @post("/{campaign_id:str}/learning-invitations", status_code=202)
    async def invite(self, campaign_id: str, data: InvitationIn, request: Request, runtime: Runtime) -> CampaignOut:
        """Mail every recipient a link to the pre-learning (STEP1) or post-learning (STEP3) page."""
        row = await campaign_for(runtime, request, campaign_id)
        principal = principal_of(request)
        _manager(principal)
        await commands.change_status(
            runtime, Tenant(row["partner_id"], row["company_id"]), campaign_id, f"invite-{data.stage}", principal.subject
        )
        if (sender := runtime.extras.get("sender")) is not None:
            sender.wake()
        return campaign_out(row)

    @post("/{campaign_id:str}/{action:str}", status_code=200)
    async def lifecycle(self, campaign_id: str, action: str, request: Request, runtime: Runtime) -> CampaignOut:
        """``pause``, ``resume``, ``cancel`` or ``close`` (publish the final results now)."""
        if action not in ("pause", "resume", "cancel", "close"):
            raise NotFoundException(f"unknown action {action!r}: use pause, resume, cancel or close")
        row = await campaign_for(runtime, request, campaign_id)
        principal = principal_of(request)
        _manager(principal)
        if action == "close":
            await commands.close_campaign(runtime, row, actor=principal.subject)
        else:
            await commands.change_status(
                runtime, Tenant(row["partner_id"], row["company_id"]), campaign_id, action, principal.subject
            )
            if action == "resume" and (sender := runtime.extras.get("sender")) is not None:
                sender.wake()
        return campaign_out(await runtime.pool.fetchrow("SELECT * FROM campaigns WHERE campaign_id=$1", campaign_id))

    @get("/{campaign_id:str}/results")
    async def results(self, campaign_id: str, request: Request, runtime: Runtime) -> CampaignResults:
        row = await campaign_for(runtime, request, campaign_id)
        return await campaign_results(runtime.pool, row)

    @get("/{campaign_id:str}/recipients")
    async def recipients(
        self, campaign_id: str, request: Request, runtime: Runtime,
        limit: int = 100, after: str | None = None, department: str | None = None,
    ) -> RecipientPage:
        await campaign_for(runtime, request, campaign_id)
        if not 1 <= limit <= 1000:
            raise ValidationException("limit must be between 1 and 1000")
        try:
            return await recipient_page(runtime.pool, campaign_id, limit=limit, after=after, department=department)
        except BadCursor as exc:
            raise ValidationException(str(exc)) from exc

    @post("/{campaign_id:str}/reports", status_code=200)
    async def record_report(self, campaign_id: str, data: ReportIn, request: Request, runtime: Runtime) -> dict[str, bool]:
        """The admin records that a recipient reported the mail (the behaviour we want to reward)."""
        await campaign_for(runtime, request, campaign_id)
        _manager(principal_of(request))
        rid = await runtime.pool.fetchval(
            "SELECT recipient_id FROM recipients WHERE campaign_id=$1 AND lower(email)=lower($2)", campaign_id, data.email
        )
        if rid is None:
            raise NotFoundException(f"{data.email} is not a recipient of this campaign")
        row = await tracking.recipient_by_token(runtime, rid)
        first = await tracking.record_report(runtime, row, "admin")
        return {"recorded": first}


__all__ = ["CampaignController", "list_templates", "DomainError"]
