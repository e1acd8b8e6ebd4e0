"""What the operator console shows for the codes in the API: one mapping, handed to the page as JSON.

The API and the page's data attributes keep the codes; only the text an operator reads is Japanese.
A code missing here is shown as it is, so a new status is visible (if not pretty) rather than hidden.
"""
from __future__ import annotations

from .alert_notice import SEVERITY_JA
from .messages_ja import SERVICE_JA, STATUS_JA

TICKET_STATUS_JA = {
    "open": "未対応",
    "in_progress": "対応中",
    "waiting_customer": "お客様の返答待ち",
    "dispatched": "駆けつけ手配済み",
    "closed": "対応完了",
}
TIMELINE_JA = {
    "opened": "受付",
    "status": "状態の変更",
    "reply": "返信",
    "dispatch": "駆けつけを依頼",
    "closed": "対応完了",
}
SOURCE_JA = {
    "user_request": "お客様からの依頼",
    "bot_failed": "自動応答で解決できず",
    "incident_report": "被害・事故の報告",
    "alert": "アラート",
    "dispatch_request": "駆けつけの依頼",
}
CHANNEL_JA = {
    "line": "LINE",
    "web": "Webチャット",
    "phone": "電話",
    "form": "申込フォーム",
    "chat": "チャット",
}
SENDER_JA = {
    "customer": "お客様",
    "bot": "自動応答",
    "system": "システム",
    "operator": "担当者",
}
BAND_JA = {"urgent": "危険", "weak": "要注意", "fair": "まずまず", "good": "良好"}
"""The diagnosis questionnaire's bands (services/diagnosis/.../questionnaires/2025.1.yaml), short."""
INDUSTRY_JA = {
    "manufacturing": "製造業",
    "construction": "建設業",
    "wholesale_retail": "卸売業・小売業",
    "transport": "運輸業・郵便業",
    "it": "情報通信業",
    "finance_insurance": "金融業・保険業",
    "real_estate": "不動産業",
    "hospitality": "宿泊業・飲食サービス業",
    "medical_welfare": "医療・福祉",
    "education": "教育・学習支援業",
    "services": "サービス業",
    "other": "その他",
}

CONSOLE_LABELS: dict[str, dict[str, str]] = {
    "ticket_status": TICKET_STATUS_JA,
    "timeline": TIMELINE_JA,
    "source": SOURCE_JA,
    "channel": CHANNEL_JA,
    "sender": SENDER_JA,
    "severity": SEVERITY_JA,
    "service": SERVICE_JA,
    "application_status": STATUS_JA,
    "band": BAND_JA,
    "industry": INDUSTRY_JA,
}
