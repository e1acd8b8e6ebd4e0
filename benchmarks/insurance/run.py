"""Insurance figures: quote pricing throughput (pure arithmetic) and quote-document rendering time (HTML, PDF).

Run: .venv/bin/python benchmarks/insurance/run.py
"""
from __future__ import annotations

import time
from datetime import date

from otasuke.events.schemas.insurance import DiagnosisSnapshot
from otasuke.insurance.domain import quote
from otasuke.insurance.domain.pricing import price_top_up
from otasuke.insurance.entrypoints.api.documents import render
from otasuke.insurance.entrypoints.api.quotes import quote_out
from otasuke.insurance.tables import current_tables
from otasuke.platform.documents import html_to_pdf


def main() -> None:
    tables = current_tables()
    bands, industries = list(tables.top_up.revenue_bands), list(tables.top_up.industries)
    n = 20_000
    start = time.perf_counter()
    for i in range(n):
        price_top_up(tables, industry=industries[i % len(industries)], revenue_band=bands[i % len(bands)],
                     diagnosis=DiagnosisSnapshot(diagnosis_id="d", score=i % 1001, not_implemented=["q17"] if i % 3 else []))
    elapsed = time.perf_counter() - start
    print(f"quote pricing: {n} quotes in {elapsed:.2f}s = {n / elapsed:,.0f} quotes/s")

    [issued] = quote.issue(quote.Quote(), quote_id="q-bench", tables=tables, industry="retail", revenue_band="100m_500m",
                           plan="standard", diagnosis=DiagnosisSnapshot(diagnosis_id="d", score=250, not_implemented=["q17", "q23"]),
                           today=date(2025, 5, 1))
    start = time.perf_counter()
    html = render("quote.html", quote=quote_out("c", issued), company={"name": "多治見商店 株式会社"})
    t_html = time.perf_counter() - start
    runs = 3
    start = time.perf_counter()
    for _ in range(runs):
        pdf = html_to_pdf(html)
    t_pdf = (time.perf_counter() - start) / runs
    print(f"quote document: HTML {t_html * 1000:.1f} ms, PDF {t_pdf * 1000:.0f} ms ({len(pdf) / 1024:.0f} KiB, mean of {runs})")


if __name__ == "__main__":
    main()
