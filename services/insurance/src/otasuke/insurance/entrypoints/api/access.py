"""Who may see which company: every route goes through here before touching a company's data."""
from __future__ import annotations

from litestar.exceptions import NotFoundException, ValidationException

from otasuke.events import Tenant
from otasuke.platform.auth import Principal, Role
from otasuke.platform.companies import get_company


async def company_tenant(runtime, principal: Principal, company_id: str | None) -> Tenant:
    """The tenant of ``company_id`` if the caller may see it; 404 otherwise (never reveals other tenants)."""
    if company_id is None:
        if principal.role == Role.COMPANY_ADMIN and principal.company_id:
            company_id = principal.company_id
        else:
            raise ValidationException("company_id is required")
    row = await get_company(runtime.pool, company_id)
    if row is None or not principal.can_access(row["partner_id"], company_id):
        raise NotFoundException("not found")
    return Tenant(row["partner_id"], company_id)


def visible(principal: Principal, partner_id: str, company_id: str) -> bool:
    return principal.can_access(partner_id, company_id)
