"""Alerts: list, detail (with evidence and history), acknowledge, resolve, escalate."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException

from otasuke.events import AggregateRef, EventMeta, Tenant, execute
from otasuke.platform.auth import principal_of, require_company
from otasuke.platform.service import Runtime

from ...application.read_model import NAME as READ_MODEL
from ...domain import alert_series
from ...domain.categories import SEVERITY_JA, category
from .tenancy import reader, visible_companies_sql


class AlertOut(msgspec.Struct, kw_only=True):
    alert_id: str
    company_id: str
    device_id: str
    host: str
    rule_id: str
    rule_title: str
    category: str
    category_ja: str
    severity: str
    severity_ja: str
    title_ja: str
    explanation_ja: str
    action_ja: str
    first_seen: datetime
    last_seen: datetime
    count: int
    status: str
    in_learning_period: bool
    baseline: str | None = None
    rule_severity: str | None = None
    resolution: str | None = None
    false_positive: bool = False


class AlertAction(msgspec.Struct, kw_only=True):
    at: datetime
    action: str
    by: str | None
    detail: str | None


class AlertDetail(AlertOut, kw_only=True):
    evidence: list[dict[str, Any]]
    history: list[AlertAction]


class ResolveIn(msgspec.Struct, kw_only=True):
    reason: str
    false_positive: bool = False


class EscalateIn(msgspec.Struct, kw_only=True):
    reason: str = ""
    ticket_id: str | None = None


def _out(r, cls=AlertOut, **extra) -> Any:
    fields = {f: r[f] for f in AlertOut.__struct_fields__ if f not in ("category_ja", "severity_ja")}
    return cls(**fields, category_ja=category(r["category"]).label_ja, severity_ja=SEVERITY_JA.get(r["severity"], ""), **extra)


class AlertController(Controller):
    path = "/api/v1/alerts"
    tags = ["alerts"]

    @get("/")
    async def list_alerts(
        self, request: Request, runtime: Runtime, company_id: str | None = None, status: str | None = None,
        include_learning: bool = True, limit: int = 100,
    ) -> list[AlertOut]:
        principal = reader(request)
        where, args = visible_companies_sql(principal)
        for column, value in (("company_id", company_id), ("status", status)):
            if value:
                args.append(value)
                where += f" AND {column} = ${len(args)}"
        if not include_learning:
            where += " AND NOT in_learning_period"
        args.append(max(1, min(limit, 1000)))
        rows = await runtime.pool.fetch(
            f"SELECT * FROM alerts WHERE {where} ORDER BY last_seen DESC LIMIT ${len(args)}", *args
        )
        return [_out(r) for r in rows]

    async def _row(self, request: Request, runtime: Runtime, alert_id: str):
        row = await runtime.pool.fetchrow("SELECT * FROM alerts WHERE alert_id=$1", alert_id)
        if row is None:
            raise NotFoundException("not found")
        principal = reader(request)
        require_company(principal, row["partner_id"], row["company_id"])
        return principal, row

    @get("/{alert_id:str}")
    async def detail(self, alert_id: str, request: Request, runtime: Runtime) -> AlertDetail:
        return await self._detail(alert_id, request, runtime)

    async def _detail(self, alert_id: str, request: Request, runtime: Runtime) -> AlertDetail:
        _, row = await self._row(request, runtime, alert_id)
        actions = await runtime.pool.fetch("SELECT * FROM alert_actions WHERE alert_id=$1 ORDER BY seq", alert_id)
        return _out(row, AlertDetail, evidence=msgspec.json.decode(row["evidence"]),
                    history=[AlertAction(at=a["at"], action=a["action"], by=a["by"], detail=a["detail"]) for a in actions])

    async def _command(self, request: Request, runtime: Runtime, alert_id: str, decide) -> AlertDetail:
        principal, row = await self._row(request, runtime, alert_id)
        ref = AggregateRef("telemetry", Tenant(row["partner_id"], row["company_id"]), alert_series.AGGREGATE_TYPE, row["group_key"])
        outcome = await execute(runtime.store, alert_series.SERIES, ref, lambda s: decide(s, principal.subject),
                                meta=EventMeta(actor=principal.subject))
        await runtime.wait_for(READ_MODEL, outcome.version)
        return await self._detail(alert_id, request, runtime)

    @post("/{alert_id:str}/acknowledge", status_code=200)
    async def acknowledge(self, alert_id: str, request: Request, runtime: Runtime) -> AlertDetail:
        return await self._command(request, runtime, alert_id, lambda s, by: alert_series.acknowledge(s, alert_id, by))

    @post("/{alert_id:str}/resolve", status_code=200)
    async def resolve(self, alert_id: str, data: ResolveIn, request: Request, runtime: Runtime) -> AlertDetail:
        return await self._command(
            request, runtime, alert_id,
            lambda s, by: alert_series.resolve(s, alert_id, data.reason, by, data.false_positive),
        )

    @post("/{alert_id:str}/escalate", status_code=200)
    async def escalate(self, alert_id: str, data: EscalateIn, request: Request, runtime: Runtime) -> AlertDetail:
        return await self._command(
            request, runtime, alert_id,
            lambda s, by: alert_series.escalate(s, alert_id, data.reason, by, data.ticket_id),
        )
