"""The Insurance service process: routes, projections and reactors."""
from __future__ import annotations

import asyncio
import logging
from datetime import date

from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import Runtime, ServiceSpec

from ..application.book import InsuranceBook
from ..application.bundled_cover import BundledCover, renew_due_policies
from ..application.risk_facts import IncidentTickets, LatestDiagnosis, MonitoredDevicesAndAlerts, TrainingResults
from .api import access
from .api.claims import ClaimController
from .api.coverage import CoverageController
from .api.policies import PolicyController
from .api.quotes import QuoteController
from .api.underwriting import UnderwritingController

log = logging.getLogger(__name__)

RENEWAL_INTERVAL_S = 6 * 3600


async def _start_renewals(rt: Runtime) -> None:
    async def loop() -> None:
        while True:
            await asyncio.sleep(RENEWAL_INTERVAL_S)
            try:
                renewed = await renew_due_policies(rt.store, rt.pool, date.today())
                if renewed:
                    log.info("renewed bundled policies: %s", renewed)
            except Exception:
                log.exception("bundled-policy renewal failed; will retry")

    rt.extras["renewals"] = asyncio.create_task(loop(), name="insurance:renewals")


async def _stop_renewals(rt: Runtime) -> None:
    task = rt.extras.pop("renewals", None)
    if task:
        task.cancel()


spec = ServiceSpec(
    name="insurance",
    title="Insurance",
    route_handlers=[PolicyController, QuoteController, CoverageController, ClaimController, UnderwritingController],
    projections=[
        CompanyDirectory("insurance"),
        InsuranceBook(),
        LatestDiagnosis(),
        MonitoredDevicesAndAlerts(),
        IncidentTickets(),
        TrainingResults(),
    ],
    reactors=lambda rt: [BundledCover(rt.store)],
    on_startup=[_start_renewals],
    on_shutdown=[_stop_renewals],
    litestar_kwargs={"dependencies": access.dependencies},
)
