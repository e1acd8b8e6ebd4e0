"""Events of the telemetry context: monitored devices, alerts, allow-lists.

Aggregates: ``device`` (id = device id) and ``alert`` (id = alert id; one alert
groups the repeats of one rule on one host within a window). Alert events are
the contract read by the help desk (chat push, explanations) and insurance
(claims evidence, underwriting): add fields only with defaults.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from ..registry import event

Severity = Literal["informational", "low", "medium", "high", "critical"]
DeviceKind = Literal["utm", "edr"]


@event("telemetry.device_registered", producer="telemetry", consumers=("telemetry", "insurance", "helpdesk_bot"))
class DeviceRegistered(msgspec.Struct, frozen=True, kw_only=True):
    """A UTM appliance or EDR agent was registered for a company; its learning period starts."""

    device_id: str
    kind: DeviceKind
    hostname: str
    learning_until: datetime | None = None


@event("telemetry.alert_raised", producer="telemetry", consumers=("telemetry", "helpdesk_bot", "insurance"))
class AlertRaised(msgspec.Struct, frozen=True, kw_only=True):
    """A detection became an alert; the texts are for the SME owner, the evidence for IT staff."""

    alert_id: str
    rule_id: str
    rule_title: str
    category: str
    """One of the report's UTM/EDR categories (e.g. c2_callback, ransomware, suspicious_process)."""
    severity: Severity
    device_id: str
    host: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    title_ja: str
    explanation_ja: str
    action_ja: str
    evidence: list[dict[str, Any]] = []
    in_learning_period: bool = False
    """Recorded but not pushed to the customer while the endpoint is still learning."""


@event("telemetry.alert_grouped", producer="telemetry", consumers=("telemetry", "helpdesk_bot"))
class AlertGrouped(msgspec.Struct, frozen=True, kw_only=True):
    """More detections of the same rule on the same host were folded into an open alert (no new notification)."""

    alert_id: str
    count: int
    last_seen: datetime
    added: int = 1


@event("telemetry.alert_acknowledged", producer="telemetry", consumers=("telemetry", "helpdesk_bot"))
class AlertAcknowledged(msgspec.Struct, frozen=True, kw_only=True):
    """Someone (customer or operator) saw the alert."""

    alert_id: str
    by: str


@event("telemetry.alert_resolved", producer="telemetry", consumers=("telemetry", "helpdesk_bot", "insurance"))
class AlertResolved(msgspec.Struct, frozen=True, kw_only=True):
    """The alert was closed, with the reason (fixed, false positive, allow-listed…)."""

    alert_id: str
    reason: str
    by: str
    false_positive: bool = False


@event("telemetry.alert_escalated", producer="telemetry", consumers=("telemetry", "helpdesk_bot"))
class AlertEscalated(msgspec.Struct, frozen=True, kw_only=True):
    """The alert was handed to the partner's operators (unacknowledged critical alert, or on request)."""

    alert_id: str
    reason: str
    ticket_id: str | None = None
