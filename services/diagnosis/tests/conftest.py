"""Helpers shared by the diagnosis tests: registering companies as the help desk would."""
from datetime import date

import httpx
import pytest

from otasuke.events import AggregateRef, Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered, ServiceActivated


@pytest.fixture
def register_company():
    """Append ``enrolment.company_registered`` (and activations) and wait until the diagnosis service knows."""

    async def register(svc, partner_id, company_id, *, industry="manufacturing", employees=20, services=()):
        store = svc.runtime.store
        tenant = Tenant(partner_id, company_id)
        recs = await store.append(
            AggregateRef("enrolment", tenant, "company", company_id),
            [CompanyRegistered(company_id=company_id, name=f"{company_id} 株式会社", industry=industry,
                               employees=employees, prefecture="岐阜県")],
            expected_seq=None,
        )
        for service in services:
            recs += await store.append(
                AggregateRef("enrolment", tenant, "application", f"{company_id}-{service}"),
                [ServiceActivated(application_id=f"{company_id}-{service}", service=service, activated_on=date(2025, 4, 1))],
                expected_seq=None,
            )
        await svc.runtime.wait_for("diagnosis.companies", recs[-1].seq)

    return register


@pytest.fixture
def answer_all():
    """Answer every open question through /next and PUT, like the bot does; ``choose(question) -> body``."""

    async def run(client: httpx.AsyncClient, headers, diagnosis_id, choose):
        asked = []
        while True:
            nxt = (await client.get(f"/api/v1/diagnoses/{diagnosis_id}/next", headers=headers)).json()
            if nxt["done"]:
                return asked
            q = nxt["question"]
            asked.append(nxt)
            resp = await client.put(f"/api/v1/diagnoses/{diagnosis_id}/answers/{q['id']}", json=choose(q), headers=headers)
            assert resp.status_code == 200, resp.text

    return run
