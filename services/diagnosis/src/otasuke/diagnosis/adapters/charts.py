"""Charts for the report (matplotlib, Japanese font, inlined PNG)."""
from __future__ import annotations

from otasuke.platform.documents import figure_data_uri, pyplot

from ..domain.scoring import AreaResult
from ..domain.standing import Bin

OK, WARN, BAD, MUTED, MINE = "#2e7d32", "#f9a825", "#c62828", "#b0bec5", "#1565c0"


def _colour(percent: int) -> str:
    return OK if percent >= 80 else WARN if percent >= 50 else BAD


def area_chart(areas: list[AreaResult]) -> str:
    """One bar per area, as a percentage of that area's points (so areas of different size compare)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels = [a.label for a in areas][::-1]
    values = [a.percent for a in areas][::-1]
    bars = ax.barh(labels, values, color=[_colour(v) for v in values], height=0.6)
    for bar, area in zip(bars, areas[::-1]):
        note = f"{area.score}/{area.max_score}点" + (f"（わからない{area.unknown}問）" if area.unknown else "")
        ax.text(min(bar.get_width(), 100) + 1.5, bar.get_y() + bar.get_height() / 2, note, va="center", fontsize=8)
    ax.set_xlim(0, 135)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("できている割合（%）", fontsize=8)
    ax.tick_params(labelsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.axvline(100, color="#ccc", lw=0.8)
    return figure_data_uri(fig)


def distribution_chart(bins: list[Bin], score: int, title: str) -> str:
    """Like the seed report's fig. 9: companies per 100-point band, this company's band highlighted."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 2.2))
    mine = next(i for i, b in enumerate(bins) if b.low <= score <= b.high)
    colours = [MINE if i == mine else MUTED for i in range(len(bins))]
    ax.bar([b.label for b in bins], [b.count for b in bins], color=colours)
    ax.annotate("御社", xy=(mine, bins[mine].count), xytext=(0, 4), textcoords="offset points",
                ha="center", fontsize=9, color=MINE)
    ax.set_ylabel("社数", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    ax.tick_params(axis="y", labelsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(0, max(b.count for b in bins) * 1.25 + 0.5)
    ax.spines[["top", "right"]].set_visible(False)
    return figure_data_uri(fig)
