"""HTML and PDF renderings of policies and quotes (Japanese, for the SME owner)."""
from __future__ import annotations

import asyncio
from datetime import date

from litestar import Response

from otasuke.platform.documents import html_to_pdf, template_env

from ...domain.coverage import FLOOR_JA, man_yen
from ...tables import coverage_texts

_env = template_env("otasuke.insurance")


def _date_ja(value) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.year}年{value.month}月{value.day}日"


_env.filters["date_ja"] = _date_ja
_env.filters["man"] = lambda yen: man_yen(int(yen))


def render(template: str, **context) -> str:
    return _env.get_template(template).render(texts=coverage_texts(), floor_ja=FLOOR_JA, **context)


def html_response(html: str) -> Response:
    return Response(html, media_type="text/html; charset=utf-8")


async def pdf_response(html: str, filename: str) -> Response:
    pdf = await asyncio.to_thread(html_to_pdf, html)
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'})
