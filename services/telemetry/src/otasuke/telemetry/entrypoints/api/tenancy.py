"""Tenant checks shared by the telemetry API: a company must exist and belong to the caller."""
from __future__ import annotations

from litestar import Request
from litestar.exceptions import NotFoundException, PermissionDeniedException

from otasuke.platform.auth import Principal, Role, principal_of, require_company
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime


async def company_for(request: Request, runtime: Runtime, company_id: str) -> tuple[Principal, str]:
    """The caller and the company's partner; 404 for unknown companies and other tenants alike."""
    principal = reader(request)
    row = await get_company(runtime.pool, company_id)
    if row is None:
        raise NotFoundException("not found")
    require_company(principal, row["partner_id"], company_id)
    return principal, row["partner_id"]


def visible_companies_sql(principal: Principal, alias: str = "") -> tuple[str, list]:
    """A WHERE fragment limiting rows to what the caller may see."""
    p = f"{alias}." if alias else ""
    if principal.is_partner_staff:
        return f"{p}partner_id = $1", [principal.partner_id]
    return f"{p}partner_id = $1 AND {p}company_id = $2", [principal.partner_id, principal.company_id]


def reader(request: Request) -> Principal:
    """People read alerts and reports; devices only send telemetry."""
    principal = principal_of(request)
    if principal.role == Role.DEVICE:
        raise PermissionDeniedException("a device token may only send telemetry")
    return principal
