from pathlib import Path

from otasuke.events.catalogue import render_markdown


def test_docs_event_catalogue_is_up_to_date():
    doc = Path(__file__).parents[3] / "docs" / "events.md"
    assert doc.read_text() == render_markdown(), "run `.venv/bin/otasuke events catalogue --out docs/events.md`"
