"""The pure domain: scheduling over Japanese business time, scanner detection, quiz, table 5, CSV, MIME."""
from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

import jpholiday
import pytest

from otasuke.training.domain.automated_requests import automated_reason
from otasuke.training.domain.message import Mail, UnencodableText, build_message
from otasuke.training.domain.partner_measures import CompanyTally, by_company_size, table5
from otasuke.training.domain.quiz import QUESTIONS, score
from otasuke.training.domain.schedule import JST, BusinessHours, NoBusinessTime, plan_send_times
from otasuke.training.domain.target_list import InvalidTargets, parse_csv, recipient_token, validate

# Golden Week 2025: 29 Apr (Tue, 昭和の日) and 3–6 May are holidays.
GW_START = datetime(2025, 4, 28, 0, 0, tzinfo=JST)
GW_END = datetime(2025, 5, 9, 23, 0, tzinfo=JST)


def test_every_mail_lands_in_japanese_business_hours_never_on_weekends_or_holidays():
    departments = ["営業部"] * 40 + ["製造部"] * 30 + ["総務部"] * 5
    times = plan_send_times(departments, window_start=GW_START, window_end=GW_END, seed="c1")
    assert len(times) == len(departments)
    hours = BusinessHours()
    for t in times:
        local = t.astimezone(JST)
        assert GW_START <= t < GW_END
        assert local.weekday() < 5, local
        assert not jpholiday.is_holiday(local.date()), local
        assert hours.contains(t), local
        assert not (12 <= local.hour < 13), "lunch break"
    days = {t.astimezone(JST).date() for t in times}
    assert len(days) >= 5, "spread over the window's business days, not bunched"


def test_members_of_one_department_do_not_receive_it_together():
    departments = ["経理部"] * 8
    start = datetime(2025, 6, 2, 9, 0, tzinfo=JST)  # Monday
    end = datetime(2025, 6, 6, 17, 0, tzinfo=JST)  # Friday: 5 days × 7 business hours
    times = sorted(plan_send_times(departments, window_start=start, window_end=end, seed="c2"))
    gaps = [(b - a) for a, b in zip(times, times[1:])]
    # Stratified: 8 members over 35 business hours are never within the same few minutes.
    assert min(gaps) > timedelta(minutes=5)
    assert len({t.astimezone(JST).date() for t in times}) >= 4


def test_schedule_is_deterministic_for_a_campaign_and_differs_between_campaigns():
    depts = ["A", "B", "A", "C", "B"]
    one = plan_send_times(depts, window_start=GW_START, window_end=GW_END, seed="same")
    assert one == plan_send_times(depts, window_start=GW_START, window_end=GW_END, seed="same")
    assert one != plan_send_times(depts, window_start=GW_START, window_end=GW_END, seed="other")


def test_a_window_without_business_hours_is_refused():
    sat = datetime(2025, 6, 7, 9, 0, tzinfo=JST)
    with pytest.raises(NoBusinessTime):
        plan_send_times(["A"], window_start=sat, window_end=sat + timedelta(days=1, hours=20), seed="x")
    new_year = datetime(2025, 12, 30, 9, 0, tzinfo=JST)
    with pytest.raises(NoBusinessTime):
        plan_send_times(["A"], window_start=new_year, window_end=new_year + timedelta(days=4), seed="x")


def test_scanners_and_sandboxes_are_told_from_people():
    sent = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
    person = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    later = sent + timedelta(minutes=12)
    assert automated_reason(method="GET", user_agent=person, sent_at=sent, at=later, min_human_seconds=10) is None
    assert automated_reason(method="HEAD", user_agent=person, sent_at=sent, at=later, min_human_seconds=10) == "HEAD request"
    assert "scanner" in automated_reason(method="GET", user_agent="Mimecast-URL-Protect/1.0", sent_at=sent, at=later,
                                         min_human_seconds=10)
    fast = automated_reason(method="GET", user_agent=person, sent_at=sent, at=sent + timedelta(seconds=2),
                            min_human_seconds=10)
    assert fast and "within" in fast
    assert automated_reason(method="GET", user_agent="", sent_at=None, at=later, min_human_seconds=0)


def test_quiz_scores_and_insists_on_every_answer():
    right = {q.id: str(q.answer) for q in QUESTIONS}
    assert score(right).score == len(QUESTIONS) and score(right).complete
    one_wrong = dict(right, q1="0")
    assert score(one_wrong).score == len(QUESTIONS) - 1 and score(one_wrong).wrong == ("q1",)
    assert not score({"q1": "1"}).complete


def test_table5_mean_of_company_rates_and_rate_over_all_mails():
    tallies = [
        CompanyTally("small", 5, sent=4, opened=2, clicked=2, reported=0),     # 50 %
        CompanyTally("mid", 40, sent=20, opened=3, clicked=2, reported=5),     # 10 %
        CompanyTally("big", 700, sent=200, opened=10, clicked=4, reported=40),  # 2 %
        CompanyTally("none", 12, sent=0, opened=0, clicked=0, reported=0),      # nothing sent: not counted
    ]
    overall, ten, hundred = table5(tallies)
    assert overall.companies == 3 and overall.sent == 224
    assert overall.mean_company_click_rate == pytest.approx((0.5 + 0.1 + 0.02) / 3)
    assert overall.overall_click_rate == pytest.approx(8 / 224)
    assert ten.companies == 2 and ten.mean_company_click_rate == pytest.approx(0.06)
    assert hundred.companies == 1 and hundred.overall_click_rate == pytest.approx(0.02)
    sizes = {row.label: row for row in by_company_size(tallies)}
    assert sizes["1〜9名"].companies == 1 and sizes["300名以上"].overall_report_rate == pytest.approx(0.2)


def test_recipient_csv_in_japanese_columns_and_validation():
    csv_text = "\ufeffメールアドレス,氏名,部署,役職,上長\nsato@example.jp,佐藤 一郎,営業部,課長,鈴木\n\nSATO@example.jp,佐藤,営業部,,\n"
    targets = parse_csv(csv_text)
    assert targets[0].name == "佐藤 一郎" and targets[0].department == "営業部" and targets[0].manager == "鈴木"
    unique, duplicates = validate(targets)
    assert len(unique) == 1 and duplicates == 1
    with pytest.raises(InvalidTargets, match="not an email"):
        validate(parse_csv("email\nnot-an-address\n"))
    with pytest.raises(InvalidTargets, match="email"):
        parse_csv("名前\n佐藤\n")
    token = recipient_token("key", "c1", "Sato@example.jp")
    assert token == recipient_token("key", "c1", "sato@example.jp") != recipient_token("key", "c2", "sato@example.jp")
    assert token.isalnum() and len(token) == 32


def _mail(charset: str, subject: str = "【重要】パスワードの有効期限") -> Mail:
    return Mail(sender_name="システム管理者", sender_address="it@training.example", to_name="山田 花子",
                to_address="yamada@example.jp", subject=subject, text="山田 花子 様\nhttp://t/x/c",
                html="<p>山田 花子 様</p>", message_id="<rabc@training.example>", campaign_id="c1",
                date=datetime(2025, 6, 2, 1, 0, tzinfo=UTC), charset=charset)


@pytest.mark.parametrize("charset", ["utf-8", "iso-2022-jp"])
def test_japanese_mime_reads_back_in_both_charsets(charset):
    raw = build_message(_mail(charset)).as_bytes()
    if charset == "iso-2022-jp":
        assert max(raw) < 128, "ISO-2022-JP mail is 7-bit"
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "【重要】パスワードの有効期限"
    assert parsed["From"].addresses[0].display_name == "システム管理者"
    assert parsed["X-Otasuke-Training"] == "1"
    assert parsed.get_body(("plain",)).get_content().startswith("山田 花子 様")
    assert parsed.get_body(("html",))["Content-Type"].params["charset"] == charset


def test_characters_missing_from_iso_2022_jp_are_refused_clearly():
    with pytest.raises(UnencodableText, match="①"):
        build_message(_mail("iso-2022-jp", subject="①お知らせ"))
