"""Top-up quotes: priced from the latest diagnosis and the current tables; accepted into a top-up policy."""
from __future__ import annotations

import asyncio
from datetime import date

import msgspec

from otasuke.events import AggregateRef, EventMeta, EventStore, Tenant, derived_id, execute, new_id
from otasuke.events.schemas.insurance import DiagnosisSnapshot, QuoteIssued

from ..domain import policy, quote
from ..tables import current_tables
from .bundled_cover import policy_ref
from .risk_facts import DIAGNOSES


def quote_ref(tenant: Tenant, quote_id: str) -> AggregateRef:
    return AggregateRef("insurance", tenant, quote.AGGREGATE_TYPE, quote_id)


async def settle(runtime, projection: str, timeout: float = 2.0) -> None:
    """Give a read model fed by another context a moment to catch up (a diagnosis completed just before the quote)."""
    runner = runtime.runners.get(projection)
    if runner is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            if await runner.caught_up():
                return
        except Exception:
            return
        await asyncio.sleep(0.05)


async def latest_diagnosis(pool, company_id: str) -> DiagnosisSnapshot | None:
    row = await pool.fetchrow("SELECT * FROM ins_diagnoses WHERE company_id=$1", company_id)
    if row is None:
        return None
    return DiagnosisSnapshot(
        diagnosis_id=row["diagnosis_id"],
        score=row["score"],
        max_score=row["max_score"],
        band=row["band"],
        not_implemented=msgspec.json.decode(row["not_implemented"]),
        unknown=msgspec.json.decode(row["unknown"]),
    )


async def request_quote(
    runtime,
    *,
    tenant: Tenant,
    industry: str,
    revenue_band: str,
    plan: str,
    actor: str,
    request_id: str | None,
    today: date,
) -> tuple[QuoteIssued, int]:
    await settle(runtime, DIAGNOSES)
    diagnosis = await latest_diagnosis(runtime.pool, tenant.company_id)
    tables = current_tables()
    # A client-supplied request id makes a retried request return the same quote.
    quote_id = "q-" + (derived_id(f"quote:{tenant.company_id}:{request_id}") if request_id else new_id())
    outcome = await execute(
        runtime.store, quote.QUOTE, quote_ref(tenant, quote_id),
        lambda s: quote.issue(
            s, quote_id=quote_id, tables=tables, industry=industry, revenue_band=revenue_band,
            plan=plan, diagnosis=diagnosis, today=today,
        ),
        meta=EventMeta(actor=actor),
    )
    return outcome.state.issued, outcome.version


def top_up_policy_id(quote_id: str) -> str:
    return "tp-" + derived_id(f"top_up:{quote_id}")


async def accept_quote(store: EventStore, *, tenant: Tenant, quote_id: str, actor: str, today: date) -> tuple[str, int]:
    """Issue the top-up policy, then mark the quote accepted; each step is idempotent, so a retry completes both."""
    state, _ = await _load_quote(store, tenant, quote_id)
    policy_id = top_up_policy_id(quote_id)
    quote.accept(state, quote_id=quote_id, policy_id=policy_id, today=today)  # validate before issuing anything
    meta = EventMeta(actor=actor)
    issued = await execute(
        store, policy.POLICY, policy_ref(tenant, policy_id),
        lambda s: policy.issue_top_up(s, policy_id=policy_id, quote=state.issued, quote_id=quote_id, starts_on=today),
        meta=meta, command_id=f"issue:{policy_id}",
    )
    accepted = await execute(
        store, quote.QUOTE, quote_ref(tenant, quote_id),
        lambda s: quote.accept(s, quote_id=quote_id, policy_id=policy_id, today=today),
        meta=meta, command_id=f"accept:{quote_id}",
    )
    return policy_id, max(issued.version, accepted.version)


async def _load_quote(store: EventStore, tenant: Tenant, quote_id: str):
    from otasuke.events import load

    return await load(store, quote.QUOTE, quote_ref(tenant, quote_id))
