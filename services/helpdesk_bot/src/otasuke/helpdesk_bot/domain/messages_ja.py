"""What the customer reads: short, polite Japanese, one place to review the wording."""
from __future__ import annotations

from datetime import datetime

from .business_hours import JST

SERVICE_JA = {
    "diagnosis": "セキュリティ簡易診断",
    "phishing_training": "標的型メール訓練",
    "utm": "UTM（ネットワーク監視機器）",
    "edr": "EDR（パソコン監視ソフト）",
    "insurance_top_up": "サイバー保険の上乗せ",
}
STATUS_JA = {
    "provisional": "仮申込",
    "confirmed": "申込確定",
    "site_survey": "現地調査",
    "installation_scheduled": "設置工事の予定確定",
    "installed": "設置済み（開始準備中）",
    "active": "利用中",
    "cancelled": "取り消し",
}
WEEKDAY_JA = "月火水木金土日"

HANDOFF = "担当者におつなぎします。ここから先は担当者がこのチャットでお返事しますので、少しお待ちください（自動応答は停止します）。"
BOT_STOPPED = "ここから先は担当者がこのチャットでお返事します（自動応答は停止します）。"
"""Added when the bot itself already announced the hand-over (its words may carry first-aid advice)."""
HANDOFF_WAITING = "担当者に伝えました。担当者からの返事をお待ちください。"
HANDOFF_ENDED = "担当者との対応を終了しました。ご不明な点があれば、いつでもこのチャットでお尋ねください。"
BOT_UNAVAILABLE = "申し訳ありません。ただいま自動応答がご利用いただけません。もう一度お試しください。"
LINKED = "{company}の{name}様として登録しました。これからアラートのお知らせやお問い合わせをこのチャットで承ります。"
LINK_FAILED = "連携コードが正しくないか、有効期限が切れています。会社の管理者の方に新しいコードをお尋ねください。"
LINK_LOCKED = "連携コードの入力に何度も失敗したため、しばらく受け付けを停止しています。時間をおいてお試しください。"
ALERT_OK = "承知しました。「問題ない」として記録しました。気になる点があれば、いつでもお尋ねください。"
ALERT_HELP = "対応のご依頼を承りました。"
DISPATCH = "担当の技術者がお伺いする手配を始めました。日時は担当者からご連絡します。"
ESCALATED = "重要なお知らせへの確認がまだのため、担当者に引き継ぎました。担当者からご連絡します。"


def when_ja(at: datetime) -> str:
    local = at.astimezone(JST)
    return f"{local.month}月{local.day}日({WEEKDAY_JA[local.weekday()]}) {local:%H:%M}"


def application_summary(service: str, status: str, scheduled_for: datetime | None, reason: str | None) -> str:
    """One sentence answering 「工事はいつ？」「申込はどうなっている？」."""
    name = SERVICE_JA.get(service, service)
    if status == "site_survey" and scheduled_for:
        return f"{name}の現地調査は{when_ja(scheduled_for)}の予定です。"
    if status == "installation_scheduled" and scheduled_for:
        return f"{name}の設置工事は{when_ja(scheduled_for)}の予定です。"
    if status == "cancelled":
        return f"{name}のお申し込みは取り消されました（理由：{reason or '記載なし'}）。"
    if status == "active":
        return f"{name}はご利用中です。"
    if status in ("provisional", "confirmed"):
        return f"{name}のお申し込みは「{STATUS_JA[status]}」です。日程が決まりましたら担当者からご連絡します。"
    return f"{name}のお申し込みは「{STATUS_JA.get(status, status)}」の段階です。"
APPLIED = "{service}のお申し込みを「仮申込」として受け付けました。担当者から内容の確認と日程のご連絡をします。"
APPLY_NEEDS_LINK = "お申し込みには、会社の管理者の方から届く連携コードの登録が必要です。8けたのコードを送ってください。"
APPLY_UNKNOWN = "申し訳ありません。お申し込みになりたいサービスが分かりませんでした。担当者にお尋ねください。"
