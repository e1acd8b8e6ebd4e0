"""The web application form: check what the SME typed, field by field, in plain Japanese.

Nothing is recorded unless every field is right, and the answer names each
wrong field so the page can show the message next to it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from otasuke.events.schemas.enrolment import SERVICES
from otasuke.events.schemas.enrolment import PreferredDate as SurveyDate

from .messages_ja import SERVICE_JA

NEEDS_SITE_VISIT = ("utm", "edr")
"""Services installed on site: a survey date is needed."""
PERIODS = {"am": "午前", "pm": "午後", "any": "終日可"}
MAX_DATES = 3
SUBMISSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
PHONE = re.compile(r"^0\d{9,10}$")


@dataclass(frozen=True)
class PreferredDate:
    day: date
    period: str


@dataclass(frozen=True)
class ApplicationForm:
    services: tuple[str, ...]
    preferred_dates: tuple[PreferredDate, ...]
    devices: int | None
    contact_name: str
    contact_phone: str
    request: str
    submission_id: str

    def note(self) -> str | None:
        """The customer's own words; dates and contact are fields of the application."""
        return self.request or None

    def survey_dates(self) -> list[SurveyDate]:
        return [SurveyDate(day=d.day, slot=d.period) for d in self.preferred_dates]


def date_ja(day: date, slot: str) -> str:
    """「6月10日(火) 午前」: how the console and the chat write a survey date."""
    return f"{day.month}月{day.day}日({'月火水木金土日'[day.weekday()]}) {PERIODS.get(slot, PERIODS['any'])}"


def _flat(value) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def check(raw: dict, *, today: date) -> tuple[ApplicationForm | None, dict[str, str]]:
    """The form, or the Japanese message for each wrong field (keys are the page's field names)."""
    errors: dict[str, str] = {}
    services = raw.get("services") or []
    if not isinstance(services, list) or not services:
        errors["services"] = "お申し込みになるサービスを1つ以上選んでください。"
        services = []
    elif any(s not in SERVICES for s in services):
        errors["services"] = "選べるサービスは一覧にあるものだけです。"
    services = tuple(dict.fromkeys(s for s in services if s in SERVICES))

    dates: list[PreferredDate] = []
    for i, item in enumerate((raw.get("preferred_dates") or [])[:MAX_DATES]):
        day_text = _flat((item or {}).get("date") if isinstance(item, dict) else "")
        if not day_text:
            continue
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            errors[f"date{i}"] = "日付を正しく入力してください（例：2025-06-10）。"
            continue
        if day <= today:
            errors[f"date{i}"] = "明日以降の日付を選んでください。"
        elif day > today + timedelta(days=180):
            errors[f"date{i}"] = "半年以内の日付を選んでください。"
        period = (item or {}).get("period") or "any"
        dates.append(PreferredDate(day, period if period in PERIODS else "any"))
    if any(s in NEEDS_SITE_VISIT for s in services) and not dates and not any(k.startswith("date") for k in errors):
        errors["date0"] = "UTM・EDRは機器の設置前に現地調査があります。ご都合のよい日を1つ以上選んでください。"

    devices: int | None = None
    devices_text = _flat(raw.get("devices"))
    if devices_text:
        if not devices_text.isdigit() or not 1 <= int(devices_text) <= 10000:
            errors["devices"] = "台数は1以上の数字で入力してください。"
        else:
            devices = int(devices_text)
    elif "edr" in services:
        errors["devices"] = "EDRはパソコン1台ごとに入れます。パソコンの台数を入力してください。"

    name = _flat(raw.get("contact_name"))
    if not name:
        errors["contact_name"] = "ご担当者のお名前を入力してください。"
    elif len(name) > 50:
        errors["contact_name"] = "お名前は50文字以内で入力してください。"
    phone = re.sub(r"[-()\s]", "", _flat(raw.get("contact_phone")))
    if not phone:
        errors["contact_phone"] = "日中につながる電話番号を入力してください。"
    elif not PHONE.match(phone):
        errors["contact_phone"] = "電話番号は0から始まる10けたか11けたの数字で入力してください（例：058-123-4567）。"
    request = _flat(raw.get("request"))
    if len(request) > 500:
        errors["request"] = "ご要望は500文字以内で入力してください。"
    submission_id = str(raw.get("submission_id") or "")
    if not SUBMISSION_ID.match(submission_id):
        errors["form"] = "画面を読み込み直してから、もう一度送信してください。"
    if errors:
        return None, errors
    return ApplicationForm(services, tuple(dates), devices, name, phone, request, submission_id), {}


def confirmation(form: ApplicationForm) -> str:
    names = "、".join(SERVICE_JA[s] for s in form.services)
    visit = "現地調査の日時を決めるため、" if any(s in NEEDS_SITE_VISIT for s in form.services) else ""
    return (f"{names}のお申し込みを「仮申込」として受け付けました。{visit}2営業日以内に担当者から"
            f"{form.contact_name}様（{form.contact_phone}）へお電話します。")
