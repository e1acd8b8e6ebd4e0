"""The company directory every service keeps: which partner owns which company.

Built from the enrolment stream, so a service can check that a company exists
and belongs to the caller's partner without calling the help desk.
"""
from __future__ import annotations

import asyncpg

from otasuke.events import Projection, Recorded
from otasuke.events.schemas.enrolment import (
    CompanyRegistered,
    CompanyUpdated,
    ServiceActivated,
    ServiceEnded,
)
from otasuke.events.streams import ENROLMENT


class CompanyDirectory(Projection):
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset(
        {"enrolment.company_registered", "enrolment.company_updated", "enrolment.service_activated", "enrolment.service_ended"}
    )
    tables = ("companies", "company_services")
    schema = """
    CREATE TABLE IF NOT EXISTS companies (
        company_id text PRIMARY KEY,
        partner_id text NOT NULL,
        name text NOT NULL,
        industry text NOT NULL,
        employees integer NOT NULL,
        prefecture text NOT NULL,
        revenue_band text,
        registered_at timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS companies_partner ON companies (partner_id);
    CREATE TABLE IF NOT EXISTS company_services (
        company_id text NOT NULL,
        service text NOT NULL,
        application_id text NOT NULL,
        active boolean NOT NULL,
        since date NOT NULL,
        devices integer,
        PRIMARY KEY (company_id, service)
    );
    """

    def __init__(self, service: str):
        self.name = f"{service}.companies"

    async def apply(self, conn: asyncpg.Connection, event: Recorded) -> None:
        env = event.envelope
        data = env.data
        if isinstance(data, CompanyRegistered):
            await conn.execute(
                """INSERT INTO companies VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
                   ON CONFLICT (company_id) DO UPDATE SET name=$3, industry=$4, employees=$5, prefecture=$6, revenue_band=$7""",
                data.company_id, env.partner_id, data.name, data.industry, data.employees, data.prefecture,
                data.revenue_band, env.occurred_at,
            )
        elif isinstance(data, CompanyUpdated):
            await conn.execute(
                """UPDATE companies SET name=COALESCE($2,name), industry=COALESCE($3,industry),
                   employees=COALESCE($4,employees), prefecture=COALESCE($5,prefecture),
                   revenue_band=COALESCE($6,revenue_band) WHERE company_id=$1""",
                env.company_id, data.name, data.industry, data.employees, data.prefecture, data.revenue_band,
            )
        elif isinstance(data, ServiceActivated):
            await conn.execute(
                """INSERT INTO company_services VALUES ($1,$2,$3,true,$4,$5)
                   ON CONFLICT (company_id, service) DO UPDATE SET active=true, since=$4, application_id=$3, devices=$5""",
                env.company_id, data.service, data.application_id, data.activated_on, data.devices,
            )
        elif isinstance(data, ServiceEnded):
            await conn.execute(
                "UPDATE company_services SET active=false, since=$3 WHERE company_id=$1 AND service=$2",
                env.company_id, data.service, data.ended_on,
            )


async def get_company(conn: asyncpg.Connection | asyncpg.Pool, company_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM companies WHERE company_id=$1", company_id)


async def active_services(conn: asyncpg.Connection | asyncpg.Pool, company_id: str) -> list[str]:
    rows = await conn.fetch("SELECT service FROM company_services WHERE company_id=$1 AND active ORDER BY service", company_id)
    return [r["service"] for r in rows]
