"""The seed report's table 5 for a partner: click rates measured two ways.

* 企業数ベース (per-company basis): the mean of each company's rate — every
  company weighs the same, so small companies dominate;
* 送信数ベース (per-mail basis): clicks over all mails — every mail weighs the
  same, so large companies dominate.

Both overall, for companies with at least 10 and at least 100 recipients, and
by company size (employees). The report's 開封率 is the URL click rate.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompanyTally:
    company_id: str
    employees: int
    sent: int
    opened: int
    clicked: int
    reported: int


@dataclass(frozen=True)
class RateRow:
    label: str
    companies: int
    sent: int
    mean_company_click_rate: float | None
    overall_click_rate: float | None
    mean_company_report_rate: float | None
    overall_report_rate: float | None


SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1〜9名", 1, 9),
    ("10〜49名", 10, 49),
    ("50〜99名", 50, 99),
    ("100〜299名", 100, 299),
    ("300名以上", 300, None),
)


def _row(label: str, tallies: list[CompanyTally]) -> RateRow:
    counted = [t for t in tallies if t.sent > 0]
    sent = sum(t.sent for t in counted)
    if not counted:
        return RateRow(label, 0, 0, None, None, None, None)
    return RateRow(
        label=label,
        companies=len(counted),
        sent=sent,
        mean_company_click_rate=sum(t.clicked / t.sent for t in counted) / len(counted),
        overall_click_rate=sum(t.clicked for t in counted) / sent,
        mean_company_report_rate=sum(t.reported / t.sent for t in counted) / len(counted),
        overall_report_rate=sum(t.reported for t in counted) / sent,
    )


def table5(tallies: list[CompanyTally]) -> list[RateRow]:
    return [
        _row("全社", tallies),
        _row("送信先10名以上", [t for t in tallies if t.sent >= 10]),
        _row("送信先100名以上", [t for t in tallies if t.sent >= 100]),
    ]


def by_company_size(tallies: list[CompanyTally]) -> list[RateRow]:
    out = []
    for label, low, high in SIZE_BANDS:
        members = [t for t in tallies if t.employees >= low and (high is None or t.employees <= high)]
        out.append(_row(label, members))
    return out
