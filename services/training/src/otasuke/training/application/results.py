"""Results queries: every count is one SQL aggregation over the recipient rows.

Nothing is loaded into Python per recipient, so a 100,000-recipient campaign
is summarised by PostgreSQL in one pass over its index, and recipient lists
are paged on the server (keyset on department and email).
"""
from __future__ import annotations

import base64
from datetime import datetime

import asyncpg
import msgspec

from ..domain.partner_measures import CompanyTally, RateRow, by_company_size, table5

COUNTS = """
    count(*)                                                     AS recipients,
    count(r.sent_at)                                               AS sent,
    count(*) FILTER (WHERE r.status = 'failed')                     AS failed,
    count(*) FILTER (WHERE r.opened_at IS NOT NULL OR r.clicked_at IS NOT NULL) AS opened,
    count(r.clicked_at)                                            AS clicked,
    count(r.submitted_at)                                          AS submitted,
    count(r.reported_at)                                           AS reported,
    count(r.pre_completed_at)                                      AS pre_learning_completed,
    count(r.post_completed_at)                                     AS learning_completed,
    sum(r.automated_requests)                                      AS automated_requests,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.clicked_at - r.sent_at))
        FILTER (WHERE r.clicked_at IS NOT NULL AND r.sent_at IS NOT NULL) AS median_seconds_to_click,
    min(r.sent_at)                                                 AS first_sent_at
"""


class Counts(msgspec.Struct, kw_only=True):
    recipients: int
    sent: int
    failed: int
    opened: int
    clicked: int
    submitted: int
    reported: int
    pre_learning_completed: int
    learning_completed: int
    automated_requests: int
    median_seconds_to_click: float | None
    open_rate: float | None
    click_rate: float | None
    submit_rate: float | None
    report_rate: float | None
    learning_completion_rate: float | None


class DepartmentResult(Counts, kw_only=True):
    department: str


class PositionResult(Counts, kw_only=True):
    position: str


class CampaignResults(Counts, kw_only=True):
    campaign_id: str
    company_id: str
    name: str
    template_id: str
    status: str
    first_sent_at: datetime | None
    departments: list[DepartmentResult]
    by_department: dict[str, Counts]
    """The same per-department counts keyed by department name."""
    positions: list[PositionResult] = []
    """By position (役職) when the target list had one: new staff and managers fall for different lures."""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts(row) -> dict:
    sent = row["sent"]
    median = row["median_seconds_to_click"]
    return dict(
        recipients=row["recipients"], sent=sent, failed=row["failed"], opened=row["opened"],
        clicked=row["clicked"], submitted=row["submitted"], reported=row["reported"],
        pre_learning_completed=row["pre_learning_completed"], learning_completed=row["learning_completed"],
        automated_requests=int(row["automated_requests"] or 0),
        median_seconds_to_click=round(float(median), 1) if median is not None else None,
        open_rate=_rate(row["opened"], sent), click_rate=_rate(row["clicked"], sent),
        submit_rate=_rate(row["submitted"], sent), report_rate=_rate(row["reported"], sent),
        learning_completion_rate=_rate(row["learning_completed"], row["clicked"]),
    )


async def campaign_results(conn: asyncpg.Connection | asyncpg.Pool, campaign: asyncpg.Record) -> CampaignResults:
    cid = campaign["campaign_id"]
    # One pass: the department rows and the overall row (GROUPING SETS).
    rows = await conn.fetch(
        f"""SELECT department, position, grouping(department) AS dept_rolled_up, grouping(position) AS pos_rolled_up,
                   {COUNTS}
            FROM recipients r WHERE campaign_id=$1
            GROUP BY GROUPING SETS ((department), (position), ()) ORDER BY department, position""",
        cid,
    )
    overall = next((r for r in rows if r["dept_rolled_up"] == 1 and r["pos_rolled_up"] == 1), None)
    departments = [DepartmentResult(department=r["department"] or "（未設定）", **_counts(r))
                   for r in rows if r["dept_rolled_up"] == 0]
    positions = [PositionResult(position=r["position"], **_counts(r))
                 for r in rows if r["pos_rolled_up"] == 0 and r["position"]]
    base = _counts(overall) if overall is not None else _counts(_EMPTY)
    return CampaignResults(
        campaign_id=cid, company_id=campaign["company_id"], name=campaign["name"],
        template_id=campaign["template_id"], status=campaign["status"],
        first_sent_at=overall["first_sent_at"] if overall is not None else None,
        departments=departments,
        positions=positions,
        by_department={d.department: Counts(**{f: getattr(d, f) for f in Counts.__struct_fields__}) for d in departments},
        **base,
    )


_EMPTY = {k: 0 for k in ("recipients", "sent", "failed", "opened", "clicked", "submitted", "reported",
                         "pre_learning_completed", "learning_completed", "automated_requests")} | {
    "median_seconds_to_click": None, "first_sent_at": None}


class CampaignPoint(Counts, kw_only=True):
    campaign_id: str
    name: str
    started: datetime


async def company_history(conn, partner_id: str, company_id: str) -> list[CampaignPoint]:
    """One point per campaign of the company, oldest first: how the rates move over time."""
    rows = await conn.fetch(
        f"""SELECT c.campaign_id, c.name, c.created_at AS started, {COUNTS}
            FROM campaigns c JOIN recipients r USING (campaign_id)
            WHERE c.partner_id=$1 AND c.company_id=$2
            GROUP BY c.campaign_id, c.name, c.created_at ORDER BY c.created_at""",
        partner_id, company_id,
    )
    return [CampaignPoint(campaign_id=r["campaign_id"], name=r["name"], started=r["started"], **_counts(r)) for r in rows]


class PartnerMeasures(msgspec.Struct, kw_only=True):
    partner_id: str
    companies: int
    table5: list[dict]
    by_company_size: list[dict]


async def partner_measures(conn, partner_id: str, since: datetime | None = None) -> PartnerMeasures:
    """Table 5 over the partner's companies (each company's mails in campaigns since ``since``)."""
    rows = await conn.fetch(
        """SELECT r.company_id, COALESCE(co.employees, 0) AS employees,
                  count(r.sent_at) AS sent,
                  count(*) FILTER (WHERE r.sent_at IS NOT NULL AND (r.opened_at IS NOT NULL OR r.clicked_at IS NOT NULL)) AS opened,
                  count(r.clicked_at) FILTER (WHERE r.sent_at IS NOT NULL) AS clicked,
                  count(r.reported_at) FILTER (WHERE r.sent_at IS NOT NULL) AS reported
           FROM recipients r JOIN campaigns c USING (campaign_id)
           LEFT JOIN companies co ON co.company_id = r.company_id
           WHERE r.partner_id=$1 AND ($2::timestamptz IS NULL OR c.created_at >= $2)
           GROUP BY r.company_id, co.employees""",
        partner_id, since,
    )
    tallies = [CompanyTally(r["company_id"], r["employees"], r["sent"], r["opened"], r["clicked"], r["reported"]) for r in rows]
    return PartnerMeasures(
        partner_id=partner_id,
        companies=sum(1 for t in tallies if t.sent),
        table5=[_row_out(r) for r in table5(tallies)],
        by_company_size=[_row_out(r) for r in by_company_size(tallies)],
    )


def _row_out(row: RateRow) -> dict:
    def pct(v):
        return round(v, 4) if v is not None else None

    return {
        "label": row.label, "companies": row.companies, "sent": row.sent,
        "mean_company_click_rate": pct(row.mean_company_click_rate),
        "overall_click_rate": pct(row.overall_click_rate),
        "mean_company_report_rate": pct(row.mean_company_report_rate),
        "overall_report_rate": pct(row.overall_report_rate),
    }


class RecipientRow(msgspec.Struct, kw_only=True):
    recipient_id: str
    email: str
    name: str
    department: str
    position: str
    status: str
    send_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    submitted_at: datetime | None
    reported_at: datetime | None
    learning_completed_at: datetime | None
    automated_requests: int
    resent_after_restart: bool
    """Sent again after a stop between the relay's acceptance and the record (same Message-ID)."""


class RecipientPage(msgspec.Struct, kw_only=True):
    items: list[RecipientRow]
    next_after: str | None
    """Pass as ``after`` to get the next page (null on the last page)."""


async def recipient_page(conn, campaign_id: str, *, limit: int, after: str | None, department: str | None) -> RecipientPage:
    # Keyset paging on (department, email): constant cost per page at any depth.
    dept_after, email_after = _decode_cursor(after) if after else ("", "")
    rows = await conn.fetch(
        """SELECT recipient_id, email, name, department, position, status, send_at, sent_at, opened_at, clicked_at,
                  submitted_at, reported_at, post_completed_at AS learning_completed_at, automated_requests,
                  resent_after_restart
           FROM recipients WHERE campaign_id=$1 AND ($2::text IS NULL OR department=$2)
             AND ($3 = false OR (department, email) > ($4, $5))
           ORDER BY department, email LIMIT $6""",
        campaign_id, department, after is not None, dept_after, email_after, limit + 1,
    )
    items = [RecipientRow(**dict(r)) for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = base64.urlsafe_b64encode(msgspec.json.encode([last.department, last.email])).decode()
    return RecipientPage(items=items, next_after=nxt)


class BadCursor(ValueError):
    pass


def _decode_cursor(after: str) -> tuple[str, str]:
    try:
        dept, email = msgspec.json.decode(base64.urlsafe_b64decode(after.encode()), type=tuple[str, str])
    except (ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("'after' is not a cursor returned by this API") from exc
    return dept, email
