"""The web form: one public page that walks through the questions with the company's link.

The page itself holds no data; it calls the same authenticated API as the
help-desk bot, with the company-admin token carried in the link's fragment
(``POST /api/v1/companies/{id}/diagnosis-link``).
"""
from __future__ import annotations

from functools import cache

from litestar import get

from otasuke.platform.documents import template_env

FORM_PATH = "/diagnosis/form"


@cache
def _page() -> str:
    return template_env("otasuke.diagnosis").get_template("form.html").render()


@get(FORM_PATH, media_type="text/html; charset=utf-8", include_in_schema=False, sync_to_thread=False)
def diagnosis_form() -> str:
    return _page()
