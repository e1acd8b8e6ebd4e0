"""Events of the telemetry context: monitored devices, alerts, allow-lists.

Aggregates (subject ``telemetry.<partner>.<company>.<type>.<id>``):

* ``device`` (id = device id): registration, hourly check-ins, learned baseline,
  rejected batches;
* ``alert`` (id = the *group key*, a hash of company + rule + host): every alert
  of one rule on one host lives on this subject, so concurrent detection
  workers serialise through optimistic concurrency. ``AlertRaised.alert_id``
  opens a new alert; later repeats within the grouping window are
  ``AlertGrouped`` on it, and ack/resolve/escalate name the ``alert_id``;
* ``allowlist`` (id = company id): exclusions requested by the customer;
* ``monitoring`` (id = company id): UTM/EDR monitoring switched on/off.

Alert events are the contract read by the help desk (chat push, explanations)
and insurance (claims evidence, underwriting): add fields only with defaults.
"""
from __future__ import annotations

from datetime import date, datetime
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
    registered_by: str | None = None


@event("telemetry.device_checked_in", producer="telemetry", consumers=("telemetry",))
class DeviceCheckedIn(msgspec.Struct, frozen=True, kw_only=True):
    """A device sent telemetry (at most one event per device and hour; tells missing devices apart)."""

    device_id: str
    at: datetime
    source: str
    events: int = 0


@event("telemetry.ingest_rejected", producer="telemetry", consumers=("telemetry",))
class IngestRejected(msgspec.Struct, frozen=True, kw_only=True):
    """A batch from a device was refused as a whole; the message names the line and field."""

    device_id: str
    batch_id: str
    source: str
    reason: str
    line: int | None = None
    field: str | None = None


@event("telemetry.baseline_learned", producer="telemetry", consumers=("telemetry",))
class BaselineLearned(msgspec.Struct, frozen=True, kw_only=True):
    """During its learning period an endpoint showed these parent/child processes and command shapes (counts to add)."""

    device_id: str
    process_pairs: dict[str, int] = {}
    command_shapes: dict[str, int] = {}


@event("telemetry.monitoring_started", producer="telemetry", consumers=("telemetry",))
class MonitoringStarted(msgspec.Struct, frozen=True, kw_only=True):
    """A UTM or EDR service went live for the company: its devices are now expected to report."""

    service: DeviceKind
    since: date
    expected_devices: int | None = None


@event("telemetry.monitoring_stopped", producer="telemetry", consumers=("telemetry",))
class MonitoringStopped(msgspec.Struct, frozen=True, kw_only=True):
    """The company's UTM or EDR service ended."""

    service: DeviceKind
    since: date
    reason: str = ""


@event("telemetry.allowlist_entry_added", producer="telemetry", consumers=("telemetry", "helpdesk_bot"))
class AllowlistEntryAdded(msgspec.Struct, frozen=True, kw_only=True):
    """Detections matching this entry are no longer alerted for the company (until it expires)."""

    entry_id: str
    value: str
    """An IP address or CIDR, a host name, or a file hash."""
    rule_id: str | None = None
    """Only for this rule; None means for every rule."""
    reason: str
    by: str
    expires_at: datetime | None = None


@event("telemetry.allowlist_entry_removed", producer="telemetry", consumers=("telemetry", "helpdesk_bot"))
class AllowlistEntryRemoved(msgspec.Struct, frozen=True, kw_only=True):
    """An allow-list entry was withdrawn before it expired."""

    entry_id: str
    by: str
    reason: str = ""


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
    kind: DeviceKind | None = None
    rule_severity: Severity | None = None
    """The rule's own level before the endpoint baseline adjusted it."""
    baseline: Literal["known", "rare"] | None = None
    """``known``: the endpoint does this normally (downgraded); ``rare``: never seen while learning (raised)."""


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
    by: str | None = None
