"""Who may see which company: every route states its tenant rule in one line through :class:`Caller`.

Handlers declare ``caller: Caller`` (a Litestar dependency, see :data:`dependencies`) and then ask
for exactly what they may touch:

* ``await caller.company(company_id, *roles)`` - the tenant of one company (roles checked first: 403);
* ``await caller.scope(company_id)`` - a list's filter: the whole partner for its staff when no
  company is named, otherwise one company;
* ``await caller.row(table, key, id, *roles)`` - a row addressed by id;
* ``caller.partner_staff()`` - the partner whose book its staff may read.

Another tenant's company or row answers 404, so a caller never learns that it exists.
"""
from __future__ import annotations

from typing import NamedTuple

from litestar import Request
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException

from otasuke.events import Tenant
from otasuke.platform.auth import Principal, Role, principal_of, require_partner_staff, require_role
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

# Rows addressed by id: table → its key column. Names come from here, never from the request.
_KEYS = {"ins_claims": "claim_id", "ins_policies": "policy_id", "ins_quotes": "quote_id"}


class Scope(NamedTuple):
    """What a list may show: ``company_id`` None means every company of ``partner_id``."""

    partner_id: str
    company_id: str | None


class Caller:
    def __init__(self, principal: Principal, runtime: Runtime):
        self.principal = principal
        self.runtime = runtime

    @property
    def subject(self) -> str:
        return self.principal.subject

    def allow(self, *roles: Role) -> Principal:
        """403 unless the caller has one of ``roles`` (no roles: anyone authenticated)."""
        if roles:
            require_role(self.principal, *roles)
        return self.principal

    def partner_staff(self) -> str:
        """The caller's partner, if it is the partner's staff (operator, insurer, service); 403 otherwise."""
        require_partner_staff(self.principal)
        return self.principal.partner_id

    async def company(self, company_id: str | None, *roles: Role, staff: bool = False) -> Tenant:
        """The tenant of ``company_id`` (a company admin may omit it: its own); 404 if not the caller's to see."""
        if staff:
            self.partner_staff()
        self.allow(*roles)
        principal = self.principal
        if company_id is None:
            if principal.role == Role.COMPANY_ADMIN and principal.company_id:
                company_id = principal.company_id
            else:
                raise ValidationException("company_id is required")
        row = await get_company(self.runtime.pool, company_id)
        if row is None or not principal.can_access(row["partner_id"], company_id):
            raise NotFoundException("not found")
        return Tenant(row["partner_id"], company_id)

    async def scope(self, company_id: str | None) -> Scope:
        """Partner staff without ``company_id`` see the partner's whole book; everyone else one company."""
        if company_id is None and self.principal.is_partner_staff:
            return Scope(self.principal.partner_id, None)
        tenant = await self.company(company_id)
        return Scope(tenant.partner_id, tenant.company_id)

    async def row(self, table: str, key: str, *roles: Role):
        """The row of ``table`` with id ``key``; 403 without one of ``roles``, 404 if missing or another tenant's."""
        self.allow(*roles)
        row = await self.runtime.pool.fetchrow(f"SELECT * FROM {table} WHERE {_KEYS[table]}=$1", key)
        if row is None or not self.principal.can_access(row["partner_id"], row["company_id"]):
            raise NotFoundException("not found")
        return row


def _caller(request: Request, runtime: Runtime) -> Caller:
    return Caller(principal_of(request), runtime)


dependencies = {"caller": Provide(_caller, sync_to_thread=False)}
"""Given to the app (``ServiceSpec.litestar_kwargs``) so every handler can declare ``caller: Caller``."""
