"""Helpers shared by the insurance tests: put other contexts' events on the streams as their services would."""
from __future__ import annotations

from datetime import date

import pytest

from otasuke.events import AggregateRef, EventMeta, Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered, ServiceActivated, ServiceEnded


class Streams:
    """Appends events of other contexts (help desk, telemetry, diagnosis) straight to JetStream."""

    def __init__(self, store):
        self.store = store

    async def emit(self, context, tenant: Tenant, aggregate_type, aggregate_id, payload, *, event_id=None, actor="test"):
        ref = AggregateRef(context, tenant, aggregate_type, aggregate_id)
        [rec] = await self.store.append(
            ref, [payload], expected_seq=None, meta=EventMeta(actor=actor), event_ids=[event_id] if event_id else None
        )
        return rec

    async def company(self, partner, company, *, industry="manufacturing", revenue_band="100m_500m", name=None):
        return await self.emit(
            "enrolment", Tenant(partner, company), "company", company,
            CompanyRegistered(company_id=company, name=name or f"{company} 株式会社", industry=industry,
                              employees=30, prefecture="岐阜県", revenue_band=revenue_band),
        )

    async def activate(self, partner, company, service="utm", application_id="app-1", *, on=date(2025, 4, 1), event_id=None):
        return await self.emit(
            "enrolment", Tenant(partner, company), "application", application_id,
            ServiceActivated(application_id=application_id, service=service, activated_on=on, devices=1),
            event_id=event_id,
        )

    async def end(self, partner, company, service="utm", application_id="app-1", *, on=date(2025, 9, 30)):
        return await self.emit(
            "enrolment", Tenant(partner, company), "application", application_id,
            ServiceEnded(application_id=application_id, service=service, ended_on=on, reason="cancelled"),
        )


@pytest.fixture
async def insurance(start_service):
    return await start_service("insurance")


@pytest.fixture
def streams(insurance):
    return Streams(insurance.runtime.store)


@pytest.fixture
def settled(insurance):
    """``await settled("insurance.book")``: wait until those consumers (default: all) have handled their streams."""
    return lambda *projections: _settled(insurance, *projections)


async def _settled(svc, *projections):
    import asyncio

    for name in projections or svc.runtime.runners:
        runner = svc.runtime.runners[name]
        for _ in range(400):
            if await runner.caught_up():
                break
            await asyncio.sleep(0.025)
        else:
            raise AssertionError(f"{name} did not catch up")
