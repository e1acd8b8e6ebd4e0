"""Companies and their services: registered by a partner operator on the help desk.

Aggregates: ``company`` (id = company id) and ``application`` (one service
application of a company).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from ..registry import event

Service = Literal["diagnosis", "phishing_training", "utm", "edr", "insurance_top_up"]
SERVICES: tuple[str, ...] = ("diagnosis", "phishing_training", "utm", "edr", "insurance_top_up")

ApplicationStatus = Literal[
    "provisional", "confirmed", "site_survey", "installation_scheduled", "installed", "active", "cancelled"
]


@event("enrolment.company_registered", producer="helpdesk_bot", consumers=('diagnosis', 'telemetry', 'training', 'insurance', 'helpdesk_bot'))
class CompanyRegistered(msgspec.Struct, frozen=True, kw_only=True):
    """A partner operator registered an SME as its customer."""

    company_id: str
    name: str
    industry: str
    employees: int
    prefecture: str
    revenue_band: str | None = None


@event("enrolment.company_updated", producer="helpdesk_bot", consumers=('diagnosis', 'telemetry', 'training', 'insurance', 'helpdesk_bot'))
class CompanyUpdated(msgspec.Struct, frozen=True, kw_only=True):
    """Company details changed (only the fields given)."""

    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    prefecture: str | None = None
    revenue_band: str | None = None


class PreferredDate(msgspec.Struct, frozen=True, kw_only=True):
    """A day the company can host the site survey, and the part of the day."""

    day: date
    slot: Literal["am", "pm", "any"] = "any"
    """Morning (午前), afternoon (午後) or either (終日可)."""


@event("enrolment.service_applied", producer="helpdesk_bot", consumers=('helpdesk_bot',))
class ServiceApplied(msgspec.Struct, frozen=True, kw_only=True):
    """A company applied for a service (status provisional)."""

    application_id: str
    service: Service
    channel: str = "web"
    devices: int | None = None
    note: str | None = None
    """The customer's own words (requests); older events also carry the survey dates and contact here."""
    preferred_dates: list[PreferredDate] = []
    """Site-survey days the customer offered, in their order of preference."""
    contact_name: str | None = None
    """Who the operator calls about this application."""
    contact_phone: str | None = None
    """Digits only, as checked by the form (0 and 9–10 more digits)."""


@event("enrolment.application_status_changed", producer="helpdesk_bot", consumers=('helpdesk_bot',))
class ApplicationStatusChanged(msgspec.Struct, frozen=True, kw_only=True):
    """An application moved to a new status; ``scheduled_for`` for survey/installation dates."""

    application_id: str
    service: Service
    status: ApplicationStatus
    scheduled_for: datetime | None = None
    reason: str | None = None


@event("enrolment.customer_contacted", producer="helpdesk_bot", consumers=('helpdesk_bot',))
class CustomerContacted(msgspec.Struct, frozen=True, kw_only=True):
    """An operator recorded a contact with the customer about an application."""

    application_id: str
    operator_id: str
    channel: str
    summary: str


@event("enrolment.service_activated", producer="helpdesk_bot", consumers=('telemetry', 'insurance', 'training', 'diagnosis', 'helpdesk_bot'))
class ServiceActivated(msgspec.Struct, frozen=True, kw_only=True):
    """A service went live for a company; telemetry starts monitoring and insurance issues bundled cover."""

    application_id: str
    service: Service
    activated_on: date
    devices: int | None = None


@event("enrolment.service_ended", producer="helpdesk_bot", consumers=('telemetry', 'insurance', 'training', 'diagnosis', 'helpdesk_bot'))
class ServiceEnded(msgspec.Struct, frozen=True, kw_only=True):
    """A company's service ended (cancelled or not renewed)."""

    application_id: str
    service: Service
    ended_on: date
    reason: str
