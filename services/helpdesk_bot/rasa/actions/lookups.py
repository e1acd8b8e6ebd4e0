"""Actions that answer from the other services: alerts, devices, training, insurance, applications, diagnosis results."""
from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .replies import HANDOFF_BUTTON, not_linked, unavailable
from .services import NotLinked, ServiceUnavailable, Tenant, call, items_of, metadata_of, tenant_of

log = logging.getLogger(__name__)


class ServiceAction(Action, abc.ABC):
    """Resolve the tenant, call the service, and answer in Japanese whatever goes wrong."""

    service = ""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            tenant = tenant_of(tracker)
        except NotLinked:
            not_linked(dispatcher)
            return []
        try:
            return await self.answer(dispatcher, tracker, tenant)
        except ServiceUnavailable as exc:
            log.warning("%s: %s", self.name(), exc)
            unavailable(dispatcher, self.service)
            return []

    @abc.abstractmethod
    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, tenant: Tenant) -> List[Dict[Text, Any]]:
        ...


# ---- alerts (telemetry) ---------------------------------------------------------

async def current_alert(tracker: Tracker, tenant: Tenant) -> Optional[Dict[str, Any]]:
    """The alert the user is talking about: the card they answered, else their latest alert.

    Only the help desk says which card is in context (it ends the context after a while, on
    「問題ない」 or when a ticket closes); the ``alert_id`` slot outlives that, so it is not used here.
    """
    alert_id = metadata_of(tracker).get("alert_id")
    if alert_id:
        found = await call("telemetry", "GET", f"/api/v1/alerts/{alert_id}", tenant, allow_404=True)
        if found:
            return found
    alerts = items_of(
        await call("telemetry", "GET", "/api/v1/alerts", tenant, params={"company_id": tenant.company_id, "limit": "5"}),
        "alerts",
    )
    return alerts[0] if alerts else None


NO_ALERT = "最近のアラートは見つかりませんでした。届いた通知の内容（件名や表示された文字）を送っていただければ、お調べします。"


class ActionExplainAlert(ServiceAction):
    service = "telemetry"

    def name(self) -> Text:
        return "action_explain_alert"

    async def answer(self, dispatcher, tracker, tenant):
        alert = await current_alert(tracker, tenant)
        if not alert:
            dispatcher.utter_message(text=NO_ALERT)
            return []
        count = int(alert.get("count") or 1)
        lines = [
            f"【{alert.get('title_ja') or alert.get('rule_title')}】",
            f"深刻さ：{alert.get('severity_ja') or alert.get('severity')}　対象：{alert.get('host', '')}"
            + (f"（{count}回検知）" if count > 1 else ""),
            str(alert.get("explanation_ja") or ""),
        ]
        if alert.get("in_learning_period"):
            lines.append("※この機器はまだ学習期間中のため、問題のない動きでも検知されることがあります。")
        dispatcher.utter_message(
            text="\n".join(line for line in lines if line),
            buttons=[
                {"title": "どうすればいい？", "payload": "/alert_what_to_do"},
                {"title": "対応を依頼", "payload": "/human_handoff"},
                {"title": "問題ない", "payload": "/alert_false_positive"},
            ],
        )
        return [SlotSet("alert_id", alert.get("alert_id"))]


class ActionAlertSteps(ServiceAction):
    service = "telemetry"

    def name(self) -> Text:
        return "action_alert_steps"

    async def answer(self, dispatcher, tracker, tenant):
        alert = await current_alert(tracker, tenant)
        if not alert:
            dispatcher.utter_message(text=NO_ALERT)
            return []
        dispatcher.utter_message(
            text=f"「{alert.get('title_ja') or alert.get('rule_title')}」への対応です。\n{alert.get('action_ja') or ''}\n"
            "ご自分で難しい場合は、担当者が代わりに対応します。",
            buttons=[{"title": "対応を依頼", "payload": "/human_handoff"}, {"title": "解決しました", "payload": "/thanks"}],
        )
        return [SlotSet("alert_id", alert.get("alert_id"))]


class ActionAlertFalsePositive(ServiceAction):
    """The user says it is fine: we never silence an alert on our own; an operator confirms it."""

    service = "telemetry"

    def name(self) -> Text:
        return "action_alert_false_positive"

    async def answer(self, dispatcher, tracker, tenant):
        alert = await current_alert(tracker, tenant)
        learning = bool(alert and alert.get("in_learning_period"))
        text = "ご連絡ありがとうございます。"
        if learning:
            text += "この機器は導入直後の学習期間中のため、普段の操作が検知されやすくなっています。"
        text += "安全のため、担当者が内容を確かめてから「問題なし」として扱います。担当者に確認を依頼しますか。"
        dispatcher.utter_message(
            text=text,
            buttons=[{"title": "はい、確認を依頼", "payload": "/affirm"}, {"title": "いいえ", "payload": "/deny"}],
        )
        events = [SlotSet("pending_offer", "handoff")]
        if alert:
            events.append(SlotSet("alert_id", alert.get("alert_id")))
        return events


class ActionDeviceCount(ServiceAction):
    service = "telemetry"

    def name(self) -> Text:
        return "action_device_count"

    async def answer(self, dispatcher, tracker, tenant):
        devices = items_of(
            await call("telemetry", "GET", "/api/v1/devices", tenant, params={"company_id": tenant.company_id}), "devices"
        )
        utm = sum(1 for d in devices if d.get("kind") == "utm")
        edr = sum(1 for d in devices if d.get("kind") == "edr")
        learning = sum(1 for d in devices if d.get("in_learning_period") or d.get("learning"))
        text = f"現在見守っている機器は {len(devices)} 台です（UTM {utm} 台、パソコン・サーバー（EDR） {edr} 台）。"
        if learning:
            text += f"\nうち {learning} 台は学習期間中です。"
        text += "\n報告書の台数は集計した時点のものなので、最近入れ替えた場合は少しずれることがあります。台数が合わない場合は担当者が確認します。"
        dispatcher.utter_message(text=text, buttons=[HANDOFF_BUTTON])
        return []


# ---- training, insurance, applications, diagnosis results ------------------------

REPORT_LINK_TITLE = "診断レポートはこちらです（タップで開きます。PDFの保存もできます）。"


async def send_report_link(dispatcher: CollectingDispatcher, tenant: Tenant, diagnosis_id: str) -> None:
    """The report as an absolute, expiring link that opens without a login (LINE, a phone browser)."""
    try:
        link = await call("diagnosis", "POST", f"/api/v1/diagnoses/{diagnosis_id}/report-link", tenant, json={})
    except ServiceUnavailable as exc:
        log.warning("report link for %s: %s", diagnosis_id, exc)
        return  # the score was already said; the link is a convenience
    if link and link.get("url"):
        dispatcher.utter_message(json_message={"type": "link", "title": REPORT_LINK_TITLE, "url": link["url"]})


def pct(value: Any) -> str:
    return f"{round(float(value) * 100)}%" if isinstance(value, (int, float)) else "-"


class ActionTrainingResults(ServiceAction):
    service = "training"

    def name(self) -> Text:
        return "action_training_results"

    async def answer(self, dispatcher, tracker, tenant):
        campaigns = items_of(
            await call("training", "GET", "/api/v1/campaigns", tenant, params={"company_id": tenant.company_id}), "campaigns"
        )
        if not campaigns:
            dispatcher.utter_message(
                text="まだメール訓練の実施記録がありません。訓練は、偽の怪しいメールを送って見分ける練習をするサービスです。申し込みますか。",
                buttons=[{"title": "申し込む", "payload": '/apply_service{"service": "phishing_training"}'}],
            )
            return []
        latest = campaigns[0]
        r = await call("training", "GET", f"/api/v1/campaigns/{latest['id']}/results", tenant)
        text = (
            f"前回の訓練「{r.get('name', latest.get('name', ''))}」の結果です。\n"
            f"送信 {r.get('sent', 0)} 人／開封 {r.get('opened', 0)} 人（{pct(r.get('open_rate'))}）／"
            f"リンクをクリック {r.get('clicked', 0)} 人（{pct(r.get('click_rate'))}）／"
            f"情報を入力 {r.get('submitted', 0)} 人／怪しいと報告 {r.get('reported', 0)} 人\n"
            "怪しいメールを「報告」してくれた人が増えるのが一番の成果です。"
        )
        dispatcher.utter_message(text=text)
        return []


class ActionInsuranceCoverage(ServiceAction):
    service = "insurance"

    def name(self) -> Text:
        return "action_insurance_coverage"

    async def answer(self, dispatcher, tracker, tenant):
        params = {"company_id": tenant.company_id}
        alert_id = metadata_of(tracker).get("alert_id")  # only a card still in context
        if alert_id:
            params["alert_id"] = alert_id
        cover = await call("insurance", "GET", "/api/v1/coverage", tenant, params=params)
        lines = [str(cover.get("answer_ja") or "")]
        if cover.get("incident_ja"):
            lines.append(str(cover["incident_ja"]))
        dispatcher.utter_message(
            text="\n".join(x for x in lines if x) or "保険の内容を確認できませんでした。",
            buttons=[HANDOFF_BUTTON] if cover.get("can_claim") else [],
        )
        return []


class ActionApplicationStatus(ServiceAction):
    service = "helpdesk_bot"

    def name(self) -> Text:
        return "action_application_status"

    async def answer(self, dispatcher, tracker, tenant):
        apps = items_of(
            await call("helpdesk_bot", "GET", "/api/v1/applications", tenant, params={"company_id": tenant.company_id}),
            "applications",
        )
        if not apps:
            dispatcher.utter_message(
                text="お申し込みの記録が見つかりませんでした。新しく申し込みますか。",
                buttons=[{"title": "申し込む", "payload": "/apply_service"}, HANDOFF_BUTTON],
            )
            return []
        lines = ["お申し込みの状況です。"] + [f"・{a.get('summary_ja') or a.get('status')}" for a in apps[:5]]
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionDiagnosisResult(ServiceAction):
    service = "diagnosis"

    def name(self) -> Text:
        return "action_diagnosis_result"

    async def answer(self, dispatcher, tracker, tenant):
        rows = items_of(
            await call("diagnosis", "GET", "/api/v1/diagnoses", tenant, params={"company_id": tenant.company_id}),
            "diagnoses",
        )
        done = [r for r in rows if r.get("status") == "completed"]
        if not done:
            dispatcher.utter_message(
                text="まだ完了した診断がありません。チャットで質問に答えるだけで診断できます（10〜15分ほど）。始めますか。",
                buttons=[{"title": "診断を始める", "payload": "/diagnosis_start"}],
            )
            return []
        latest = max(done, key=lambda r: r.get("completed_at") or "")
        detail = await call("diagnosis", "GET", f"/api/v1/diagnoses/{latest['id']}", tenant)
        result = detail.get("result") or {}
        text = f"前回の診断結果は {latest.get('score')} 点（1000点満点）、評価は「{result.get('band_label') or latest.get('band')}」でした。"
        areas = sorted(result.get("areas") or [], key=lambda a: (a.get("score", 0) / max(1, a.get("max_score", 1))))
        if areas:
            weak = "、".join(a.get("label") or a.get("area") for a in areas[:3])
            text += f"\n特に弱いのは「{weak}」の分野です。"
        dispatcher.utter_message(text=text)
        await send_report_link(dispatcher, tenant, latest["id"])
        return []
