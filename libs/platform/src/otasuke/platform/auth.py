"""Bearer tokens and tenant checks.

Every API call carries a JWT signed (HS256) with the deployment's key. Its
claims say who the caller is and which tenant it may touch:

=============  ===========================================================
role           may access
=============  ===========================================================
operator       every company of its partner (the partner's staff)
company_admin  its own company only (an SME's admin or contact)
device         ingest for its own company only (UTM appliance, EDR agent)
insurer        read-only underwriting views of its partner's companies
service        service-to-service calls within one partner
=============  ===========================================================

A company never sees another company's data; a partner's operator never sees
another partner's companies. Routes call :func:`require_company` /
:func:`require_partner` with the tenant of the resource they are about to
return or change.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.security.jwt import JWTAuth, Token

ALGORITHM = "HS256"


class Role(StrEnum):
    OPERATOR = "operator"
    COMPANY_ADMIN = "company_admin"
    DEVICE = "device"
    INSURER = "insurer"
    SERVICE = "service"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    role: Role
    partner_id: str
    company_id: str | None = None
    session: str | None = None
    """Claim ``sid``: the sign-in session a token was issued for, so a service can refuse it once that session ends."""

    def can_access(self, partner_id: str, company_id: str | None) -> bool:
        if partner_id != self.partner_id:
            return False
        if self.role in (Role.OPERATOR, Role.INSURER, Role.SERVICE):
            return True
        return company_id is not None and company_id == self.company_id

    @property
    def is_partner_staff(self) -> bool:
        return self.role in (Role.OPERATOR, Role.INSURER, Role.SERVICE)


def issue_token(
    key: str,
    *,
    subject: str,
    role: Role | str,
    partner_id: str,
    company_id: str | None = None,
    ttl: timedelta = timedelta(hours=12),
    session: str | None = None,
) -> str:
    role = Role(role)
    if role in (Role.COMPANY_ADMIN, Role.DEVICE) and not company_id:
        raise ValueError(f"a {role} token needs a company_id")
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "role": role.value,
        "partner_id": partner_id,
    }
    if company_id:
        claims["company_id"] = company_id
    if session:
        claims["sid"] = session
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_token(key: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM])
    except jwt.PyJWTError as exc:
        raise NotAuthorizedException(f"invalid token: {exc}") from exc
    return _principal(claims)


def _principal(claims: dict) -> Principal:
    try:
        return Principal(
            subject=claims["sub"],
            role=Role(claims["role"]),
            partner_id=claims["partner_id"],
            company_id=claims.get("company_id"),
            session=claims.get("sid"),
        )
    except (KeyError, ValueError) as exc:
        raise NotAuthorizedException(f"token lacks a valid role/tenant claim: {exc}") from exc


async def _retrieve_principal(token: Token, connection: ASGIConnection) -> Principal:
    return _principal({"sub": token.sub, **token.extras})


def jwt_auth(key: str, *, exclude: list[str]) -> JWTAuth[Principal]:
    return JWTAuth[Principal](
        token_secret=key,
        retrieve_user_handler=_retrieve_principal,
        algorithm=ALGORITHM,
        exclude=exclude,
    )


def principal_of(connection: ASGIConnection) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException("authentication required")
    return user


def require_company(principal: Principal, partner_id: str, company_id: str | None, *, hide: bool = True) -> None:
    """Refuse access to another tenant's resource.

    With ``hide`` (the default for resources addressed by id) the answer is 404,
    so a caller cannot even learn that the resource exists.
    """
    if not principal.can_access(partner_id, company_id):
        if hide:
            raise NotFoundException("not found")
        raise PermissionDeniedException("this company belongs to another tenant")


def require_partner_staff(principal: Principal, partner_id: str | None = None) -> None:
    if not principal.is_partner_staff or (partner_id is not None and partner_id != principal.partner_id):
        raise PermissionDeniedException("only the partner's operators may do this")


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise PermissionDeniedException(f"role {principal.role} may not do this")
