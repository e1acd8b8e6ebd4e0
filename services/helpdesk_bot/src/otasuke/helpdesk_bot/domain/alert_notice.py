"""Whether, when and how an alert reaches the customer's chat (pure rules)."""
from __future__ import annotations

from datetime import datetime, time
from typing import Literal

import msgspec

from .business_hours import JST

SEVERITIES = ("informational", "low", "medium", "high", "critical")
SEVERITY_JA = {"informational": "情報", "low": "低", "medium": "中", "high": "高", "critical": "緊急"}


class Preferences(msgspec.Struct, frozen=True, kw_only=True):
    min_severity: str = "high"
    quiet_start: str | None = None
    quiet_end: str | None = None
    escalate_after_minutes: float = 30.0


Decision = Literal["push", "defer", "skip"]


def _hm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def valid_hm(value: str | None) -> bool:
    if value is None:
        return True
    try:
        _hm(value)
    except ValueError:
        return False
    return True


def in_quiet_hours(prefs: Preferences, at: datetime) -> bool:
    if not prefs.quiet_start or not prefs.quiet_end:
        return False
    now = at.astimezone(JST).time()
    start, end = _hm(prefs.quiet_start), _hm(prefs.quiet_end)
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # spans midnight, e.g. 22:00-07:00


def decide(prefs: Preferences, severity: str, in_learning_period: bool, at: datetime) -> Decision:
    """Push now, hold until quiet hours end, or not push at all.

    Critical alerts break through quiet hours: waiting until morning is exactly
    what the owner would not want for ransomware.
    """
    if in_learning_period:
        return "skip"
    if SEVERITIES.index(severity) < SEVERITIES.index(prefs.min_severity):
        return "skip"
    if severity != "critical" and in_quiet_hours(prefs, at):
        return "defer"
    return "push"


def should_escalate(prefs: Preferences, severity: str, notified_at: datetime, acknowledged: bool, now: datetime) -> bool:
    if severity != "critical" or acknowledged:
        return False
    return (now - notified_at).total_seconds() >= prefs.escalate_after_minutes * 60


# -- the notice aggregate: one per alert, in the help desk context -----------------------------
from otasuke.events import Aggregate, Envelope  # noqa: E402
from otasuke.events.schemas.helpdesk import (  # noqa: E402
    AlertEscalatedToOperator,
    AlertNoticeAnswered,
    AlertNoticeSent,
)

AGGREGATE_TYPE = "alert_notice"


class Notice(msgspec.Struct, frozen=True):
    sent: bool = False
    answered: bool = False
    escalated: bool = False


def evolve(state: Notice, env: Envelope) -> Notice:
    if isinstance(env.data, AlertNoticeSent):
        return msgspec.structs.replace(state, sent=True)
    if isinstance(env.data, AlertNoticeAnswered) and env.data.answer != "details":
        # Reading the details is not an answer: a critical alert still escalates if nobody acts on it.
        return msgspec.structs.replace(state, answered=True)
    if isinstance(env.data, AlertEscalatedToOperator):
        return msgspec.structs.replace(state, escalated=True)
    return state


NOTICE = Aggregate(initial=Notice, evolve=evolve)


def send_once(state: Notice, event: AlertNoticeSent) -> list[AlertNoticeSent]:
    """A grouped alert's repeats, a redelivery or a second scheduler all end here: one card per alert."""
    return [] if state.sent else [event]


def escalate_once(state: Notice, event: AlertEscalatedToOperator) -> list[AlertEscalatedToOperator]:
    return [] if state.escalated or state.answered else [event]
