"""The company aggregate: an SME registered by its partner's operator."""
from __future__ import annotations

import msgspec

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.enrolment import CompanyRegistered, CompanyUpdated

AGGREGATE_TYPE = "company"


class Company(msgspec.Struct, frozen=True):
    registered: bool = False
    name: str = ""
    industry: str = ""
    employees: int = 0
    prefecture: str = ""


def evolve(state: Company, env: Envelope) -> Company:
    data = env.data
    if isinstance(data, CompanyRegistered):
        return Company(True, data.name, data.industry, data.employees, data.prefecture)
    if isinstance(data, CompanyUpdated):
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None and k in Company.__struct_fields__}
        return msgspec.structs.replace(state, **changes)
    return state


COMPANY = Aggregate(initial=Company, evolve=evolve)


def register(state: Company, command: CompanyRegistered) -> list[CompanyRegistered]:
    """Register once; registering the same details again is a no-op, different details an error."""
    if command.employees < 0:
        raise DomainError("employees must be zero or more")
    if state.registered:
        if (state.name, state.industry, state.employees, state.prefecture) == (
            command.name, command.industry, command.employees, command.prefecture,
        ):
            return []
        raise DomainError(f"company {command.company_id} is already registered")
    return [command]
