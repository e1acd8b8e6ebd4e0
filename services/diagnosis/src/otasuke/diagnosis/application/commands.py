"""Command handlers: check the tenant, run the aggregate, wait for the read model.

The HTTP API, the web form and (through the API) the help-desk bot all come
through here, so tenancy is checked in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import NotFoundException

from otasuke.events import AggregateRef, DomainError, EventMeta, Tenant, derived_id, execute, load, new_id
from otasuke.platform.auth import Principal, require_company
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ..domain import diagnosis as dg
from ..domain import questionnaire as qn
from . import read_model


class CompanyNotRegistered(NotFoundException):
    pass


@dataclass(frozen=True)
class Located:
    ref: AggregateRef
    row: object  # the read-model row (partner, company, version …)


async def company_of(rt: Runtime, principal: Principal, company_id: str):
    """The company row, if the caller may act for it (404 alike for unknown and foreign)."""
    row = await get_company(rt.pool, company_id)
    if row is None or not principal.can_access(row["partner_id"], row["company_id"]):
        raise CompanyNotRegistered(
            f"company {company_id!r} is not registered for your partner; "
            "register it on the help desk (POST /api/v1/companies) first"
        )
    return row


def ref_for(partner_id: str, company_id: str, diagnosis_id: str) -> AggregateRef:
    return AggregateRef("diagnosis", Tenant(partner_id, company_id), dg.AGGREGATE_TYPE, diagnosis_id)


async def locate(rt: Runtime, principal: Principal, diagnosis_id: str) -> Located:
    row = await read_model.find(rt.pool, diagnosis_id)
    if row is None:
        raise NotFoundException(f"no diagnosis {diagnosis_id!r}")
    require_company(principal, row["partner_id"], row["company_id"])
    return Located(ref_for(row["partner_id"], row["company_id"], diagnosis_id), row)


async def state_of(rt: Runtime, located: Located) -> tuple[dg.Diagnosis, qn.Questionnaire]:
    state, _ = await load(rt.store, dg.DIAGNOSIS, located.ref)
    return state, qn.load(state.questionnaire_version)


async def start(
    rt: Runtime,
    principal: Principal,
    *,
    company_id: str,
    industry: str | None,
    security_action: qn.SecurityAction,
    idempotency_key: str | None = None,
) -> tuple[str, dg.Diagnosis]:
    company = await company_of(rt, principal, company_id)
    questionnaire = qn.current()
    industry_id = questionnaire.industry_id(industry or company["industry"] or "") or (
        None if industry else "other"
    )
    if industry_id is None:
        choices = ", ".join(f"{i.id} ({i.label})" for i in questionnaire.industries)
        raise DomainError(f"unknown industry {industry!r}; choose one of: {choices}")
    # A client retry with the same key lands on the same diagnosis instead of a second one.
    diagnosis_id = derived_id(f"diagnosis:{company_id}:{idempotency_key}") if idempotency_key else new_id()
    previous = await read_model.latest_completed(rt.pool, company_id)
    ref = ref_for(company["partner_id"], company_id, diagnosis_id)
    outcome = await execute(
        rt.store, dg.DIAGNOSIS, ref,
        lambda s: dg.start(
            s, questionnaire, diagnosis_id=diagnosis_id, industry=industry_id, security_action=security_action,
            previous_diagnosis_id=previous["diagnosis_id"] if previous else None,
        ),
        meta=EventMeta(actor=principal.subject),
    )
    await rt.wait_for(read_model.PROJECTION, outcome.version)
    return diagnosis_id, outcome.state


async def answer(
    rt: Runtime, principal: Principal, diagnosis_id: str, question_id: str, implemented: bool | None, items: list[str]
) -> dg.Diagnosis:
    located = await locate(rt, principal, diagnosis_id)
    questionnaire = qn.load(located.row["questionnaire_version"])
    outcome = await execute(
        rt.store, dg.DIAGNOSIS, located.ref,
        lambda s: dg.record_answer(s, questionnaire, question_id, implemented, items),
        meta=EventMeta(actor=principal.subject),
    )
    if outcome.appended:
        await rt.wait_for(read_model.PROJECTION, outcome.version)
    return outcome.state


async def complete(rt: Runtime, principal: Principal, diagnosis_id: str) -> dg.Diagnosis:
    located = await locate(rt, principal, diagnosis_id)
    questionnaire = qn.load(located.row["questionnaire_version"])
    outcome = await execute(
        rt.store, dg.DIAGNOSIS, located.ref, lambda s: dg.complete(s, questionnaire),
        meta=EventMeta(actor=principal.subject),
    )
    if outcome.appended:
        await rt.wait_for(read_model.PROJECTION, outcome.version)
    return outcome.state
