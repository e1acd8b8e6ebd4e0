"""Alerts of one rule on one host: grouping, and the life of each alert.

The aggregate is the *series* of alerts for a group key (company + rule +
host). A detection either opens a new alert (``AlertRaised``) or, when an
alert of the series is still open and the detection falls within the grouping
window after its last sighting, is folded into it (``AlertGrouped``) — so a
Windows XP machine calling its C&C server thousands of times a day is one
alert with a count, not thousands of notifications.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.telemetry import (
    AlertAcknowledged,
    AlertEscalated,
    AlertGrouped,
    AlertRaised,
    AlertResolved,
)

AGGREGATE_TYPE = "alert"
STATUS_OPEN, STATUS_ACK, STATUS_ESCALATED, STATUS_RESOLVED = "open", "acknowledged", "escalated", "resolved"
_SEEN_KEEP = 512


def group_key(company_id: str, rule_id: str, host: str) -> str:
    digest = hashlib.sha256(f"{company_id}\x1f{rule_id}\x1f{host.lower()}".encode()).hexdigest()
    return "g" + digest[:24]


@dataclass(frozen=True)
class AlertState:
    alert_id: str
    first_seen: datetime
    last_seen: datetime
    count: int
    status: str = STATUS_OPEN


@dataclass(frozen=True)
class SeriesState:
    alerts: dict[str, AlertState] = field(default_factory=dict)
    current: str | None = None
    raised: int = 0
    seen: tuple[str, ...] = ()
    """Recent event ids, so a redelivered batch is not counted again even after JetStream's duplicate window."""


def evolve(state: SeriesState, env: Envelope) -> SeriesState:
    d = env.data
    seen = (*state.seen[-(_SEEN_KEEP - 1):], env.id)
    alerts = state.alerts
    if isinstance(d, AlertRaised):
        alerts = {**alerts, d.alert_id: AlertState(d.alert_id, d.first_seen, d.last_seen, d.count)}
        return replace(state, alerts=alerts, current=d.alert_id, raised=state.raised + 1, seen=seen)
    a = alerts.get(getattr(d, "alert_id", ""))
    if a is None:
        return replace(state, seen=seen)
    if isinstance(d, AlertGrouped):
        a = replace(a, count=d.count, last_seen=max(a.last_seen, d.last_seen))
    elif isinstance(d, AlertAcknowledged) and a.status == STATUS_OPEN:
        a = replace(a, status=STATUS_ACK)
    elif isinstance(d, AlertEscalated) and a.status != STATUS_RESOLVED:
        a = replace(a, status=STATUS_ESCALATED)
    elif isinstance(d, AlertResolved):
        a = replace(a, status=STATUS_RESOLVED)
    return replace(state, alerts={**alerts, a.alert_id: a}, seen=seen)


SERIES = Aggregate(SeriesState, evolve)


@dataclass(frozen=True)
class Detection:
    """What the detection core found for one group key in one batch."""

    key: str
    rule_id: str
    rule_title: str
    category: str
    severity: str
    device_id: str
    host: str
    kind: str
    first_seen: datetime
    last_seen: datetime
    count: int
    evidence: list[dict[str, Any]]
    title_ja: str
    explanation_ja: str
    action_ja: str
    in_learning_period: bool = False
    rule_severity: str | None = None
    baseline: str | None = None


def record_detection(state: SeriesState, det: Detection, window: timedelta, event_id: str) -> list:
    if event_id in state.seen:
        return []  # this batch was already counted
    cur = state.alerts.get(state.current) if state.current else None
    if cur is not None and cur.status != STATUS_RESOLVED and det.first_seen <= cur.last_seen + window:
        return [AlertGrouped(alert_id=cur.alert_id, count=cur.count + det.count,
                             last_seen=max(cur.last_seen, det.last_seen), added=det.count)]
    return [
        AlertRaised(
            alert_id=f"{det.key}-{state.raised + 1}", rule_id=det.rule_id, rule_title=det.rule_title,
            category=det.category, severity=det.severity, device_id=det.device_id, host=det.host,
            first_seen=det.first_seen, last_seen=det.last_seen, count=det.count, title_ja=det.title_ja,
            explanation_ja=det.explanation_ja, action_ja=det.action_ja, evidence=det.evidence,
            in_learning_period=det.in_learning_period, kind=det.kind, rule_severity=det.rule_severity,
            baseline=det.baseline,
        )
    ]


def _alert(state: SeriesState, alert_id: str) -> AlertState:
    a = state.alerts.get(alert_id)
    if a is None:
        raise DomainError(f"alert {alert_id} not found")
    return a


def acknowledge(state: SeriesState, alert_id: str, by: str) -> list:
    a = _alert(state, alert_id)
    if a.status != STATUS_OPEN:
        return []
    return [AlertAcknowledged(alert_id=alert_id, by=by)]


def resolve(state: SeriesState, alert_id: str, reason: str, by: str, false_positive: bool = False) -> list:
    a = _alert(state, alert_id)
    if not reason.strip():
        raise DomainError("a reason is required to resolve an alert")
    if a.status == STATUS_RESOLVED:
        return []
    return [AlertResolved(alert_id=alert_id, reason=reason.strip(), by=by, false_positive=false_positive)]


def escalate(state: SeriesState, alert_id: str, reason: str, by: str, ticket_id: str | None = None) -> list:
    a = _alert(state, alert_id)
    if a.status in (STATUS_RESOLVED, STATUS_ESCALATED):
        raise DomainError(f"alert {alert_id} is already {a.status}")
    return [AlertEscalated(alert_id=alert_id, reason=reason or "escalated on request", ticket_id=ticket_id, by=by)]
