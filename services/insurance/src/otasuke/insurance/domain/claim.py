"""The claim aggregate: opened from an incident with its evidence, then moved to settlement by the insurer."""
from __future__ import annotations

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope, derived_id
from otasuke.events.schemas.insurance import ClaimEvidenceAdded, ClaimOpened, ClaimStatusChanged, EvidenceItem

AGGREGATE_TYPE = "claim"

# Which status may follow which; settled, denied and withdrawn are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "opened": frozenset({"documents_requested", "under_review", "withdrawn"}),
    "documents_requested": frozenset({"under_review", "withdrawn"}),
    "under_review": frozenset({"documents_requested", "approved", "denied"}),
    "approved": frozenset({"settled"}),
    "denied": frozenset(),
    "settled": frozenset(),
    "withdrawn": frozenset(),
}

STATUS_JA = {
    "opened": "受付済み",
    "documents_requested": "書類のご提出待ち",
    "under_review": "審査中",
    "approved": "お支払い決定",
    "denied": "お支払い対象外",
    "settled": "お支払い完了",
    "withdrawn": "取り下げ",
}


class Claim(msgspec.Struct, frozen=True):
    opened: ClaimOpened | None = None
    status: str = "none"
    evidence_ids: frozenset[str] = frozenset()
    paid_yen: int | None = None


def evolve(state: Claim, env: Envelope) -> Claim:
    data = env.data
    if isinstance(data, ClaimOpened):
        return Claim(data, "opened", frozenset(e.event_id for e in data.evidence))
    if isinstance(data, ClaimEvidenceAdded):
        return msgspec.structs.replace(state, evidence_ids=state.evidence_ids | {e.event_id for e in data.evidence})
    if isinstance(data, ClaimStatusChanged):
        return msgspec.structs.replace(state, status=data.status, paid_yen=data.paid_yen if data.paid_yen is not None else state.paid_yen)
    return state


CLAIM = Aggregate(initial=Claim, evolve=evolve)


def claim_id_for(company_id: str, *, ticket_id: str | None, alert_id: str | None) -> str:
    """One incident, one claim: the id follows from what the claim was started from."""
    source = f"ticket:{ticket_id}" if ticket_id else f"alert:{alert_id}"
    return "cl-" + derived_id(f"claim:{company_id}:{source}")


def open_claim(state: Claim, command: ClaimOpened) -> list:
    if not command.policy_ids:
        raise DomainError("this company has no active policy to claim on")
    if state.opened is not None:
        # Asked again for the same incident: only evidence that is new is added.
        new = [e for e in command.evidence if e.event_id not in state.evidence_ids]
        return [ClaimEvidenceAdded(claim_id=command.claim_id, evidence=new)] if new else []
    return [command]


def add_evidence(state: Claim, *, claim_id: str, evidence: list[EvidenceItem]) -> list:
    if state.opened is None:
        raise DomainError(f"claim {claim_id} does not exist")
    new = [e for e in evidence if e.event_id not in state.evidence_ids]
    return [ClaimEvidenceAdded(claim_id=claim_id, evidence=new)] if new else []


def change_status(state: Claim, *, claim_id: str, status: str, note: str = "", paid_yen: int | None = None, limit_yen: int | None = None) -> list:
    if state.opened is None:
        raise DomainError(f"claim {claim_id} does not exist")
    if status == state.status:
        return []  # repeated request: already there
    allowed = TRANSITIONS.get(state.status, frozenset())
    if status not in allowed:
        raise DomainError(
            f"a claim that is {state.status} cannot become {status}; next can be: {', '.join(sorted(allowed)) or 'nothing (final)'}"
        )
    if status == "settled":
        if paid_yen is None or paid_yen < 0:
            raise DomainError("settling a claim needs paid_yen (zero or more)")
        if limit_yen is not None and paid_yen > limit_yen:
            raise DomainError(f"paid_yen {paid_yen:,} exceeds the policies' total limit {limit_yen:,}")
    elif paid_yen is not None:
        raise DomainError("paid_yen is only given when settling")
    return [ClaimStatusChanged(claim_id=claim_id, status=status, note=note, paid_yen=paid_yen)]
