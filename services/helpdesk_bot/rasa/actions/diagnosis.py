"""The self-diagnosis walked through in chat, one question at a time (diagnosis API).

The gate is three buttons (はい／いいえ／わからない); after はい the question's
items are offered as a pick list, one tap each, then 「これで全部」 records the
answer and the next question follows.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .lookups import ServiceAction, send_report_link
from .replies import not_linked, unavailable
from .services import NotLinked, ServiceUnavailable, Tenant, call, tenant_of

log = logging.getLogger(__name__)

GATE_BUTTONS = [
    {"title": "はい", "payload": '/affirm{"diag_answer": "yes"}'},
    {"title": "いいえ", "payload": '/deny{"diag_answer": "no"}'},
    {"title": "わからない", "payload": '/deny{"diag_answer": "unknown"}'},
]
DONE_BUTTON = {"title": "これで全部", "payload": '/affirm{"diag_answer": "done"}'}


def _clear() -> List[Dict[Text, Any]]:
    return [SlotSet("diag_question", None), SlotSet("diag_items", [])]


async def ask_next(dispatcher: CollectingDispatcher, tenant: Tenant, diagnosis_id: str) -> List[Dict[Text, Any]]:
    step = await call("diagnosis", "GET", f"/api/v1/diagnoses/{diagnosis_id}/next", tenant)
    if step.get("done"):
        result = await call("diagnosis", "POST", f"/api/v1/diagnoses/{diagnosis_id}/complete", tenant, json={})
        dispatcher.utter_message(
            text=f"おつかれさまでした。診断の結果は {result.get('score')} 点（{result.get('max_score', 1000)}点満点）、"
            f"評価は「{result.get('band_label') or result.get('band')}」です。"
            "詳しいレポートで、次にやるとよいことを確認できます。"
        )
        await send_report_link(dispatcher, tenant, diagnosis_id)
        return [SlotSet("diagnosis_id", None), *_clear()]
    question = step.get("question") or {}
    items = [{"id": i["id"], "text": i["text"]} for i in question.get("items") or []]
    text = step.get("message") or f"{question.get('text', '')}"
    dispatcher.utter_message(text=text, buttons=GATE_BUTTONS)
    return [
        SlotSet("diagnosis_id", diagnosis_id),
        SlotSet("diag_question", {"id": question.get("id"), "items": items, "phase": "gate"}),
        SlotSet("diag_items", []),
    ]


def offer_items(dispatcher: CollectingDispatcher, items: List[Dict[str, str]], picked: List[str]) -> None:
    remaining = [i for i in items if i["id"] not in picked]
    lead = "あてはまるものをすべて選んで、最後に「これで全部」を押してください。" if not picked else "ほかにもあれば選んでください。"
    buttons = [{"title": i["text"][:40], "payload": '/affirm{"diag_item": "%s"}' % i["id"]} for i in remaining]
    dispatcher.utter_message(text=lead, buttons=[*buttons, DONE_BUTTON])


async def record(tenant: Tenant, diagnosis_id: str, question_id: str, implemented: Optional[bool], items: List[str]) -> None:
    await call(
        "diagnosis", "PUT", f"/api/v1/diagnoses/{diagnosis_id}/answers/{question_id}", tenant,
        json={"implemented": implemented, "items": items if implemented else []},
    )


async def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """はい／いいえ／わからない or a ticked item, while a diagnosis question is open."""
    try:
        tenant = tenant_of(tracker)
    except NotLinked:
        not_linked(dispatcher)
        return []
    diagnosis_id = tracker.get_slot("diagnosis_id")
    question = tracker.get_slot("diag_question") or {}
    picked = list(tracker.get_slot("diag_items") or [])
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    answer = next(tracker.get_latest_entity_values("diag_answer"), None)
    item = next(tracker.get_latest_entity_values("diag_item"), None)
    items = question.get("items") or []
    try:
        if item:
            if item in {i["id"] for i in items} and item not in picked:
                picked.append(item)
            offer_items(dispatcher, items, picked)
            return [SlotSet("diag_items", picked), SlotSet("diag_question", {**question, "phase": "items"})]
        if intent == "affirm" and answer != "done" and items and question.get("phase") != "items":
            offer_items(dispatcher, items, [])
            return [SlotSet("diag_items", []), SlotSet("diag_question", {**question, "phase": "items"})]
        if intent == "affirm":
            await record(tenant, diagnosis_id, question["id"], True, picked)
        elif answer == "unknown":
            await record(tenant, diagnosis_id, question["id"], None, [])
        else:
            await record(tenant, diagnosis_id, question["id"], False, [])
        return await ask_next(dispatcher, tenant, diagnosis_id)
    except ServiceUnavailable as exc:
        log.warning("diagnosis answer: %s", exc)
        unavailable(dispatcher, "diagnosis")
        return []


class ActionDiagnosisStart(ServiceAction):
    service = "diagnosis"

    def name(self) -> Text:
        return "action_diagnosis_start"

    async def answer(self, dispatcher, tracker, tenant):
        diagnosis_id = tracker.get_slot("diagnosis_id")
        if diagnosis_id:
            dispatcher.utter_message(text="前回の続きから始めます。")
            return await ask_next(dispatcher, tenant, diagnosis_id)
        started = await call("diagnosis", "POST", "/api/v1/diagnoses", tenant, json={"company_id": tenant.company_id})
        dispatcher.utter_message(
            text="セキュリティ診断を始めます。質問に「はい／いいえ／わからない」で答えてください。わからない場合は無理に答えなくて大丈夫です。"
        )
        return await ask_next(dispatcher, tenant, started["id"])
