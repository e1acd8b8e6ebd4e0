"""The company's results page (HTML) and, from the same HTML, its PDF summary."""
from __future__ import annotations

from functools import cache

from ..domain.lures import get_lure
from .results import campaign_results, company_history


@cache
def _env():
    from otasuke.platform.documents import template_env

    env = template_env("otasuke.training")
    env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.0f}%"
    env.filters["duration"] = _duration
    return env


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{max(seconds // 60, 1)}分"
    if seconds < 86400:
        return f"{seconds // 3600}時間{seconds % 3600 // 60}分"
    return f"{seconds // 86400}日"


def _history_chart(points) -> str | None:
    if len(points) < 2:
        return None
    from otasuke.platform.documents import figure_data_uri, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.6))
    labels = [p.started.strftime("%Y/%m") for p in points]
    ax.plot(labels, [(p.click_rate or 0) * 100 for p in points], marker="o", label="クリック率")
    ax.plot(labels, [(p.report_rate or 0) * 100 for p in points], marker="s", label="報告率")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend()
    ax.grid(alpha=0.3)
    return figure_data_uri(fig)


async def render_company_report(pool, company) -> str:
    history = await company_history(pool, company["partner_id"], company["company_id"])
    latest = None
    if history:
        row = await pool.fetchrow("SELECT * FROM campaigns WHERE campaign_id=$1", history[-1].campaign_id)
        latest = await campaign_results(pool, row)
    lure = get_lure(latest.template_id) if latest else None
    return _env().get_template("report/company.html").render(
        company=company, history=history, latest=latest, lure=lure, chart=_history_chart(history),
    )
