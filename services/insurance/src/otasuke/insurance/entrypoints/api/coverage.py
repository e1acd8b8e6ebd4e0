"""「保険でどこまでカバーされますか」: the answer the help desk gives, for a company and optionally an incident."""
from __future__ import annotations

import msgspec
from litestar import Controller, get

from otasuke.events.schemas.insurance import CoverLimit
from otasuke.platform.service import Runtime

from ...application.book import BOOK
from ...application.quoting import settle
from ...domain.coverage import ActivePolicy, CoverageAnswer, explain
from ...tables import coverage_texts
from .access import Caller


class CoverageController(Controller):
    path = "/api/v1/coverage"
    tags = ["coverage"]

    @get("/")
    async def coverage(
        self, caller: Caller, runtime: Runtime, company_id: str | None = None, category: str | None = None,
        alert_id: str | None = None,
    ) -> CoverageAnswer:
        """What the company's active cover pays for; ``category`` (e.g. ransomware) or ``alert_id`` narrows it to one incident."""
        tenant = await caller.company(company_id)
        await settle(runtime, BOOK)
        if alert_id and not category:
            category = await runtime.pool.fetchval(
                "SELECT category FROM ins_alerts WHERE alert_id=$1 AND company_id=$2", alert_id, tenant.company_id
            )
        rows = await runtime.pool.fetch(
            "SELECT * FROM ins_policies WHERE company_id=$1 AND partner_id=$2 AND status='active'",
            tenant.company_id, tenant.partner_id,
        )
        policies = [
            ActivePolicy(
                policy_id=r["policy_id"], tier=r["tier"], ends_on=r["ends_on"].isoformat(),
                aggregate_limit_yen=r["aggregate_limit_yen"], covers=msgspec.json.decode(r["covers"], type=list[CoverLimit]),
            )
            for r in rows
        ]
        return explain(coverage_texts(), company_id=tenant.company_id, policies=policies, category=category)
