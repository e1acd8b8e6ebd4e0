"""Claim evidence: events of the alert and ticket streams turned into a readable timeline."""
from __future__ import annotations

from typing import Any

import msgspec

from otasuke.events import Envelope
from otasuke.events.schemas.helpdesk import (
    DispatchRequested,
    OperatorReplied,
    TicketClosed,
    TicketOpened,
    TicketStatusChanged,
)
from otasuke.events.schemas.insurance import EvidenceItem
from otasuke.events.schemas.telemetry import (
    AlertAcknowledged,
    AlertEscalated,
    AlertGrouped,
    AlertRaised,
    AlertResolved,
)


def _summary(data: Any) -> str | None:
    if isinstance(data, AlertRaised):
        return f"警報: {data.title_ja}（{data.host}、重要度 {data.severity}、{data.count}回）"
    if isinstance(data, AlertGrouped):
        return f"同じ警報がさらに{data.added}回（合計{data.count}回）"
    if isinstance(data, AlertAcknowledged):
        return f"警報を確認（{data.by}）"
    if isinstance(data, AlertEscalated):
        return f"オペレーターへ引き継ぎ: {data.reason}"
    if isinstance(data, AlertResolved):
        return f"警報を解決: {data.reason}" + ("（誤検知）" if data.false_positive else "")
    if isinstance(data, TicketOpened):
        return f"問い合わせ受付: {data.summary}"
    if isinstance(data, TicketStatusChanged):
        return f"対応状況の変更: {data.status}（{data.by}）"
    if isinstance(data, OperatorReplied):
        return f"オペレーターの回答: {data.text}"
    if isinstance(data, DispatchRequested):
        return f"駆けつけ対応を手配: {data.reason}"
    if isinstance(data, TicketClosed):
        return f"対応完了: {data.resolution}"
    return None


def evidence_item(env: Envelope) -> EvidenceItem | None:
    """One timeline entry for an alert or ticket event; None for events that say nothing about the incident."""
    summary = _summary(env.data)
    if summary is None:
        return None
    source = "alert" if env.type.startswith("telemetry.") else "ticket"
    return EvidenceItem(
        at=env.occurred_at.isoformat(),
        source=source,
        event_type=env.type,
        event_id=env.id,
        summary_ja=summary,
        data=msgspec.to_builtins(env.data),
    )


def timeline(envelopes: list[Envelope]) -> list[EvidenceItem]:
    items = {e.event_id: e for env in envelopes if (e := evidence_item(env)) is not None}
    return sorted(items.values(), key=lambda e: (e.at, e.event_id))


def incident_category(envelopes: list[Envelope]) -> str | None:
    """The most severe alert category in the evidence (ransomware over a port scan)."""
    order = ["informational", "low", "medium", "high", "critical"]
    raised = [env.data for env in envelopes if isinstance(env.data, AlertRaised)]
    if not raised:
        return None
    return max(raised, key=lambda a: order.index(a.severity)).category
