"""The insurer's underwriting view: per company what bears on the risk, per partner the book of policies."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get

from otasuke.platform.service import Runtime

from .access import Caller
from .claims import ClaimOut, claim_out
from .policies import PolicyOut, policy_out


class DiagnosisOut(msgspec.Struct, kw_only=True):
    diagnosis_id: str
    questionnaire_version: str
    score: int
    max_score: int
    band: str
    areas: list[dict[str, Any]]
    not_implemented: list[str]
    unknown: list[str]
    completed_at: datetime


class DeviceOut(msgspec.Struct, kw_only=True):
    device_id: str
    kind: str
    hostname: str
    registered_at: datetime


class AlertOut(msgspec.Struct, kw_only=True):
    alert_id: str
    category: str
    severity: str
    title_ja: str
    host: str
    first_seen: datetime
    last_seen: datetime
    count: int
    resolved: bool
    false_positive: bool


class AlertSummary(msgspec.Struct, kw_only=True):
    total: int
    open: int
    false_positives: int
    by_severity: dict[str, int]
    by_category: dict[str, int]
    recent: list[AlertOut]


class TrainingOut(msgspec.Struct, kw_only=True):
    campaign_id: str
    completed_at: datetime
    counts: dict[str, int]


class CompanyRisk(msgspec.Struct, kw_only=True):
    company_id: str
    name: str
    industry: str
    employees: int
    revenue_band: str | None
    services: list[str]
    diagnosis: DiagnosisOut | None
    devices: list[DeviceOut]
    alerts: AlertSummary
    incident_tickets: int
    training: list[TrainingOut]
    training_note: str | None
    policies: list[PolicyOut]
    claims: list[ClaimOut]


class BookLine(msgspec.Struct, kw_only=True):
    company_id: str
    name: str
    policies: list[PolicyOut]
    diagnosis_score: int | None
    open_alerts: int
    claims: int
    paid_yen: int


class Book(msgspec.Struct, kw_only=True):
    partner_id: str
    active_policies: int
    bundled_active: int
    top_up_active: int
    annual_premium_yen: int
    claims_open: int
    paid_yen: int
    companies: list[BookLine]


class UnderwritingController(Controller):
    path = "/api/v1/underwriting"
    tags = ["underwriting"]

    @get("/companies/{company_id:str}")
    async def company(self, company_id: str, caller: Caller, runtime: Runtime) -> CompanyRisk:
        tenant = await caller.company(company_id, staff=True)
        pool = runtime.pool
        c = await pool.fetchrow("SELECT * FROM companies WHERE company_id=$1", company_id)
        services = [r["service"] for r in await pool.fetch(
            "SELECT service FROM company_services WHERE company_id=$1 AND active ORDER BY service", company_id)]
        d = await pool.fetchrow("SELECT * FROM ins_diagnoses WHERE company_id=$1 AND partner_id=$2", company_id, tenant.partner_id)
        diagnosis = None if d is None else DiagnosisOut(
            diagnosis_id=d["diagnosis_id"], questionnaire_version=d["questionnaire_version"], score=d["score"],
            max_score=d["max_score"], band=d["band"], areas=msgspec.json.decode(d["areas"]),
            not_implemented=msgspec.json.decode(d["not_implemented"]), unknown=msgspec.json.decode(d["unknown"]),
            completed_at=d["completed_at"],
        )
        devices = [DeviceOut(**{k: r[k] for k in DeviceOut.__struct_fields__}) for r in await pool.fetch(
            "SELECT * FROM ins_devices WHERE company_id=$1 AND partner_id=$2 ORDER BY device_id", company_id, tenant.partner_id)]
        alerts = [AlertOut(**{k: r[k] for k in AlertOut.__struct_fields__}) for r in await pool.fetch(
            "SELECT * FROM ins_alerts WHERE company_id=$1 AND partner_id=$2 ORDER BY first_seen DESC", company_id, tenant.partner_id)]
        by_sev: dict[str, int] = {}
        by_cat: dict[str, int] = {}
        for a in alerts:
            if a.false_positive:
                continue
            by_sev[a.severity] = by_sev.get(a.severity, 0) + 1
            by_cat[a.category] = by_cat.get(a.category, 0) + 1
        training = [TrainingOut(campaign_id=r["campaign_id"], completed_at=r["completed_at"], counts=msgspec.json.decode(r["counts"]))
                    for r in await pool.fetch("SELECT * FROM ins_training WHERE company_id=$1 ORDER BY completed_at DESC", company_id)]
        incidents = await pool.fetchval("SELECT count(*) FROM ins_tickets WHERE company_id=$1 AND incident", company_id)
        policies = [policy_out(r) for r in await pool.fetch(
            "SELECT * FROM ins_policies WHERE company_id=$1 AND partner_id=$2 ORDER BY tier, starts_on", company_id, tenant.partner_id)]
        claims = [await claim_out(pool, r) for r in await pool.fetch(
            "SELECT * FROM ins_claims WHERE company_id=$1 AND partner_id=$2 ORDER BY opened_at DESC", company_id, tenant.partner_id)]
        return CompanyRisk(
            company_id=company_id, name=c["name"], industry=c["industry"], employees=c["employees"],
            revenue_band=c["revenue_band"], services=services, diagnosis=diagnosis, devices=devices,
            alerts=AlertSummary(
                total=len(alerts), open=sum(not a.resolved for a in alerts),
                false_positives=sum(a.false_positive for a in alerts), by_severity=by_sev, by_category=by_cat,
                recent=alerts[:20],
            ),
            incident_tickets=incidents, training=training,
            training_note=None if training else "訓練の結果はまだありません（no training.campaign_completed event yet）",
            policies=policies, claims=claims,
        )

    @get("/book")
    async def book(self, caller: Caller, runtime: Runtime) -> Book:
        pool, partner = runtime.pool, caller.partner_staff()
        policies = [policy_out(r) for r in await pool.fetch(
            "SELECT * FROM ins_policies WHERE partner_id=$1 ORDER BY company_id, tier, starts_on", partner)]
        companies = {r["company_id"]: r for r in await pool.fetch(
            "SELECT company_id, name FROM companies WHERE partner_id=$1", partner)}
        scores = {r["company_id"]: r["score"] for r in await pool.fetch(
            "SELECT company_id, score * 1000 / GREATEST(max_score, 1) AS score FROM ins_diagnoses WHERE partner_id=$1", partner)}
        open_alerts = {r["company_id"]: r["n"] for r in await pool.fetch(
            "SELECT company_id, count(*) AS n FROM ins_alerts WHERE partner_id=$1 AND NOT resolved GROUP BY company_id", partner)}
        claim_rows = await pool.fetch("SELECT company_id, status, paid_yen FROM ins_claims WHERE partner_id=$1", partner)
        lines = []
        for cid in sorted({p.company_id for p in policies}):
            mine = [c for c in claim_rows if c["company_id"] == cid]
            lines.append(BookLine(
                company_id=cid, name=companies[cid]["name"] if cid in companies else cid,
                policies=[p for p in policies if p.company_id == cid], diagnosis_score=scores.get(cid),
                open_alerts=open_alerts.get(cid, 0), claims=len(mine), paid_yen=sum(c["paid_yen"] or 0 for c in mine),
            ))
        active = [p for p in policies if p.status == "active"]
        return Book(
            partner_id=partner, active_policies=len(active),
            bundled_active=sum(p.tier == "bundled" for p in active), top_up_active=sum(p.tier == "top_up" for p in active),
            annual_premium_yen=sum(p.annual_premium_yen for p in active),
            claims_open=sum(c["status"] not in ("settled", "denied", "withdrawn") for c in claim_rows),
            paid_yen=sum(c["paid_yen"] or 0 for c in claim_rows), companies=lines,
        )
