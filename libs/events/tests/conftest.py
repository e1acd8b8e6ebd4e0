import asyncpg
import pytest

from otasuke.events import Projection, Recorded, Tenant
from otasuke.events.schemas.enrolment import ServiceApplied
from otasuke.events.streams import ENROLMENT, AggregateRef


class AppliedCounter(Projection):
    """Counts service applications per company: any double-count shows up in the numbers."""

    name = "test.applied_counter"
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset({"enrolment.service_applied"})
    tables = ("applied_counts",)
    schema = """CREATE TABLE IF NOT EXISTS applied_counts (
        company_id text PRIMARY KEY, applications integer NOT NULL)"""

    def __init__(self, fail_on: set[str] | None = None):
        self.fail_on = fail_on or set()
        self.calls = 0

    async def apply(self, conn: asyncpg.Connection, event: Recorded) -> None:
        self.calls += 1
        data = event.envelope.data
        if data.application_id in self.fail_on:
            raise RuntimeError(f"cannot handle {data.application_id}")
        await conn.execute(
            """INSERT INTO applied_counts VALUES ($1, 1)
               ON CONFLICT (company_id) DO UPDATE SET applications = applied_counts.applications + 1""",
            event.envelope.company_id,
        )


@pytest.fixture
def tenant():
    return Tenant("p1", "c1")


@pytest.fixture
def app_ref(tenant):
    def ref(app_id: str = "a1", company: str | None = None):
        t = Tenant(tenant.partner_id, company) if company else tenant
        return AggregateRef("enrolment", t, "application", app_id)

    return ref


def applied(app_id: str, service: str = "utm") -> ServiceApplied:
    return ServiceApplied(application_id=app_id, service=service)
