"""The monthly report of one company: what an owner grasps in a minute, with the evidence behind it.

Counts per category as in tables 7 (UTM) and 10 (EDR) of the programme report,
for the month and the three before it; the notable alerts in plain Japanese
(what happened, what was done, what to do); the devices monitored, which of
them are missing or still learning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from otasuke.platform import documents

from ..domain.categories import EDR_CATEGORIES, SEVERITY_JA, UTM_CATEGORIES, category

TREND_MONTHS = 4
MISSING_AFTER = timedelta(days=2)
STATUS_JA = {"open": "未対応", "acknowledged": "確認済み", "escalated": "担当者へ引き継ぎ済み", "resolved": "対応完了"}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


def month_start(month: str) -> date:
    y, m = month.split("-")
    return date(int(y), int(m), 1)


def add_months(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


@dataclass
class MonthlyReport:
    company_id: str
    company_name: str
    month: date
    months: list[date]
    utm: list[dict[str, Any]]
    edr: list[dict[str, Any]]
    totals: dict[str, list[int]]
    incidents: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    expected_devices: dict[str, int | None] = field(default_factory=dict)
    summary_ja: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if k != "months"} | {
            "months": [m.isoformat()[:7] for m in self.months]
        }


async def build(pool, company_id: str, month: str) -> MonthlyReport:
    start = month_start(month)
    months = [add_months(start, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
    end = add_months(start, 1)
    company = await pool.fetchrow("SELECT * FROM companies WHERE company_id=$1", company_id)
    rows = await pool.fetch(
        "SELECT month, category, count FROM detection_counts WHERE company_id=$1 AND month = ANY($2::date[])",
        company_id, months,
    )
    counts: dict[tuple[date, str], int] = {(r["month"], r["category"]): r["count"] for r in rows}

    def table(cats) -> list[dict[str, Any]]:
        return [{"key": c.key, "label": c.label_ja, "counts": [counts.get((m, c.key), 0) for m in months]} for c in cats]

    utm, edr = table(UTM_CATEGORIES), table(EDR_CATEGORIES)
    totals = {
        "utm": [sum(r["counts"][i] for r in utm) for i in range(len(months))],
        "edr": [sum(r["counts"][i] for r in edr) for i in range(len(months))],
    }
    alerts = await pool.fetch(
        """SELECT * FROM alerts WHERE company_id=$1 AND last_seen >= $2 AND first_seen < $3
           ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
                    count DESC LIMIT 8""",
        company_id, datetime(start.year, start.month, 1, tzinfo=UTC), datetime(end.year, end.month, 1, tzinfo=UTC),
    )
    incidents = []
    for a in alerts:
        if a["severity"] in ("informational",) and len(incidents) >= 3:
            continue
        actions = await pool.fetch("SELECT * FROM alert_actions WHERE alert_id=$1 ORDER BY seq", a["alert_id"])
        incidents.append({
            "alert_id": a["alert_id"], "title": a["title_ja"], "explanation": a["explanation_ja"], "action": a["action_ja"],
            "category": category(a["category"]).label_ja, "severity": a["severity"],
            "severity_ja": SEVERITY_JA.get(a["severity"], ""), "host": a["host"], "count": a["count"],
            "first_seen": a["first_seen"], "last_seen": a["last_seen"], "status": STATUS_JA.get(a["status"], a["status"]),
            "resolution": a["resolution"], "in_learning": a["in_learning_period"], "rule": a["rule_title"],
            "done": _what_was_done(a, actions),
        })
    now = datetime.now(UTC)
    devs = await pool.fetch("SELECT * FROM devices WHERE company_id=$1 ORDER BY kind, device_id", company_id)
    devices = []
    for d in devs:
        last = d["last_seen_at"]
        devices.append({
            "device_id": d["device_id"], "kind": d["kind"].upper(), "hostname": d["hostname"], "last_seen": last,
            "missing": last is None or now - last > MISSING_AFTER,
            "learning": d["learning_until"] is not None and d["learning_until"] > now,
            "learning_until": d["learning_until"], "events": d["events_seen"],
        })
    mon = await pool.fetch("SELECT service, active, expected_devices FROM monitoring WHERE company_id=$1", company_id)
    expected = {r["service"]: r["expected_devices"] for r in mon if r["active"]}
    report = MonthlyReport(
        company_id=company_id, company_name=company["name"] if company else company_id, month=start, months=months,
        utm=utm, edr=edr, totals=totals, incidents=incidents, devices=devices, expected_devices=expected,
    )
    report.summary_ja = _summary(report)
    return report


def _what_was_done(alert, actions) -> str:
    parts = []
    if alert["kind"] == "utm":
        parts.append("UTM が通信を自動で止めました。")
    if alert["in_learning_period"]:
        parts.append("学習期間中のため通知はせず、記録のみ行いました。")
    for a in actions:
        if a["action"] == "acknowledged":
            parts.append("担当の方が確認しました。")
        elif a["action"] == "escalated":
            parts.append("お助け隊の担当者へ引き継ぎました。")
        elif a["action"] == "resolved":
            parts.append(f"対応完了（{a['detail']}）。")
    return "".join(parts) or "現在、対応待ちです。"


def _summary(r: MonthlyReport) -> list[str]:
    lines = []
    utm_now, edr_now = r.totals["utm"][-1], r.totals["edr"][-1]
    utm_prev, edr_prev = r.totals["utm"][-2], r.totals["edr"][-2]
    serious = [i for i in r.incidents if i["severity"] in ("critical", "high")]
    if serious:
        open_ = [i for i in serious if i["status"] != "対応完了"]
        lines.append(f"重要な検知が {len(serious)} 件ありました" + (f"（うち未完了 {len(open_)} 件）。下の「主な出来事」をご確認ください。" if open_ else "。すべて対応済みです。"))
    else:
        lines.append("今月、すぐに対応が必要な重要な検知はありませんでした。")
    if r.utm and (utm_now or utm_prev):
        lines.append(f"UTM（ネットワーク）の脅威検知は {utm_now:,} 件（前月 {utm_prev:,} 件）でした。")
    if r.edr and (edr_now or edr_prev):
        lines.append(f"EDR（パソコン）の不審な動きの検知は {edr_now:,} 件（前月 {edr_prev:,} 件）でした。")
    missing = [d for d in r.devices if d["missing"]]
    learning = [d for d in r.devices if d["learning"]]
    lines.append(f"監視中の機器は {len(r.devices)} 台です。" + (f"うち {len(missing)} 台から最近データが届いていません。電源やネットワークをご確認ください。" if missing else ""))
    if learning:
        lines.append(f"{len(learning)} 台は導入直後の学習期間中です（検知は記録しますが、通知は控えています）。")
    return lines


def charts(r: MonthlyReport) -> dict[str, str]:
    plt = documents.pyplot()
    labels = [f"{m.month}月" for m in r.months]
    out = {}
    for kind, rows, title in (("utm", r.utm, "UTM 脅威イベントの推移"), ("edr", r.edr, "EDR 検知の推移")):
        active = [row for row in rows if any(row["counts"])]
        if not active:
            continue
        fig, ax = plt.subplots(figsize=(7, 3))
        bottom = [0] * len(labels)
        for row in active:
            ax.bar(labels, row["counts"], bottom=bottom, label=row["label"])
            bottom = [b + c for b, c in zip(bottom, row["counts"])]
        ax.set_title(title)
        ax.set_ylabel("件数")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
        out[kind] = documents.figure_data_uri(fig)
    return out


def render_html(r: MonthlyReport, *, with_charts: bool = True) -> str:
    env = documents.template_env("otasuke.telemetry")
    return env.get_template("monthly_report.html").render(
        r=r, charts=charts(r) if with_charts else {}, generated=datetime.now(UTC),
    )
