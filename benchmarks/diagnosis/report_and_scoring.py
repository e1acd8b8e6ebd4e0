"""How fast the diagnosis scores answers and renders a report (no servers needed).

    .venv/bin/python benchmarks/diagnosis/report_and_scoring.py

Prints: answer sets scored per second, and seconds per HTML report (with its
two charts) and per PDF, for a synthetic company among 50 partner companies.
"""
import random
import time
from datetime import datetime, timezone

from otasuke.diagnosis.application import report
from otasuke.diagnosis.domain import diagnosis as dg
from otasuke.diagnosis.domain import questionnaire as qn
from otasuke.diagnosis.domain.next_steps import next_steps
from otasuke.diagnosis.domain.scoring import Answer, score
from otasuke.platform.documents import html_to_pdf

Q = qn.current()
rng = random.Random(7)


def random_answers():
    out = {}
    for q in Q.questions:
        gate = rng.choice([True, False, None])
        out[q.id] = Answer(implemented=gate, items=tuple(i.id for i in q.items if gate and rng.random() < 0.6))
    return out


sets = [random_answers() for _ in range(2000)]
t = time.perf_counter()
for answers in sets:
    next_steps(Q, score(Q, answers))
elapsed = time.perf_counter() - t
print(f"scoring + next steps: {len(sets) / elapsed:,.0f} answer sets/s")

state = dg.Diagnosis(started=True, diagnosis_id="bench", questionnaire_version=Q.version, industry="manufacturing",
                     answers=sets[0])
ctx = report.assemble(Q, state, {"name": "ベンチ工業株式会社"}, ["utm"], [rng.randint(0, 1000) for _ in range(50)],
                      [rng.randint(0, 1000) for _ in range(12)], score(Q, sets[1]), datetime.now(timezone.utc))
report.render(ctx)  # warm up fonts and templates
runs = 5
t = time.perf_counter()
for _ in range(runs):
    html = report.render(ctx)
html_s = (time.perf_counter() - t) / runs
t = time.perf_counter()
for _ in range(runs):
    pdf = html_to_pdf(html)
pdf_s = (time.perf_counter() - t) / runs
print(f"report HTML with charts: {html_s:.2f} s ({len(html) / 1024:.0f} KiB)")
print(f"report PDF: {pdf_s:.2f} s ({len(pdf) / 1024:.0f} KiB)")
