"""Public pages reached from the links in a training mail (``/t/<token>/…``; no login).

The token is the recipient id: 128 random-looking bits derived with the
deployment key, so it cannot be guessed. Pages never reveal more than the
recipient's own training.
"""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from typing import Any

from litestar import Request, Response, get, post, route
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from otasuke.platform.service import Runtime

from ..application import tracking
from ..domain import quiz
from ..domain.automated_requests import automated_reason
from ..domain.lures import get_lure

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


@cache
def _env():
    from otasuke.platform.documents import template_env

    return template_env("otasuke.training")


def page(template: str, status: int = 200, **values: Any) -> Response:
    html = _env().get_template(f"pages/{template}.html").render(**values)
    return Response(html, media_type=MediaType.HTML, status_code=status, headers=NO_STORE)


def not_found() -> Response:
    return page("message", 404, title="ページが見つかりません", text="このリンクは無効です。URLをご確認ください。")


def _ua(request: Request) -> str:
    return request.headers.get("user-agent", "")


def _config(runtime: Runtime):
    return runtime.extras["training_config"]


@route("/t/{token:str}/o.gif", http_method=["GET", "HEAD"], include_in_schema=False)
async def open_pixel(token: str, request: Request, runtime: Runtime) -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    if row is not None:
        await tracking.record_open(runtime, row, method=request.method, user_agent=_ua(request))
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@route("/t/{token:str}/c", http_method=["GET", "HEAD"], include_in_schema=False)
async def click(token: str, request: Request, runtime: Runtime) -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    if row is None:
        return not_found()
    await tracking.record_click(
        runtime, row, method=request.method, user_agent=_ua(request), min_human_seconds=_config(runtime).min_human_seconds
    )
    if request.method == "HEAD":
        return Response(b"", headers=NO_STORE)
    lure = get_lure(row["template_id"])
    target = f"/t/{token}/landing" if lure is not None and lure.has_form else f"/t/{token}/learn"
    return Redirect(target, status_code=303, headers=NO_STORE)


@get("/t/{token:str}/landing", include_in_schema=False)
async def landing(token: str, runtime: Runtime) -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    lure = get_lure(row["template_id"]) if row is not None else None
    if row is None or lure is None or not lure.has_form:
        return not_found()
    return page("landing", lure=lure, token=token)


@post("/t/{token:str}/submit", include_in_schema=False, status_code=303)
async def submit(token: str, runtime: Runtime) -> Response:
    # The request body is deliberately never read: only *that* something was submitted is recorded.
    row = await tracking.recipient_by_token(runtime, token)
    if row is None:
        return not_found()
    await tracking.record_submit(runtime, row)
    return Redirect(f"/t/{token}/learn", status_code=303, headers=NO_STORE)


async def _learning_page(runtime: Runtime, row, token: str, stage: str, quiz_error: str | None = None) -> Response:
    return page(
        "learn", 422 if quiz_error else 200, stage=stage, token=token, lure=get_lure(row["template_id"]),
        questions=quiz.QUESTIONS, report_address=_config(runtime).report_address,
        submitted=row["submitted_at"] is not None, quiz_error=quiz_error,
    )


@get("/t/{token:str}/learn", include_in_schema=False)
async def learn(token: str, request: Request, runtime: Runtime, stage: str = "post") -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    if row is None or stage not in ("pre", "post"):
        return not_found()
    if automated_reason(method=request.method, user_agent=_ua(request), sent_at=None, at=datetime.now(UTC),
                        min_human_seconds=0) is None:
        await tracking.record_learning_started(runtime, row, stage)
    return await _learning_page(runtime, row, token, stage)


@post("/t/{token:str}/quiz", include_in_schema=False, status_code=200)
async def answer_quiz(
    token: str,
    runtime: Runtime,
    data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED),
    stage: str = "post",
) -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    if row is None or stage not in ("pre", "post"):
        return not_found()
    result = quiz.score({k: v for k, v in data.items() if isinstance(v, str)})
    if not result.complete:
        return await _learning_page(runtime, row, token, stage, quiz_error="まだ答えていない問題があります。すべての問題に答えてください。")
    await tracking.record_learning_completed(runtime, row, stage, result.score, result.questions)
    return page("quiz_result", result=result, questions=quiz.QUESTIONS)


@get("/t/{token:str}/report", include_in_schema=False)
async def report_form(token: str, runtime: Runtime) -> Response:
    # A GET only shows the button: link scanners must not be able to "report" for a person.
    row = await tracking.recipient_by_token(runtime, token)
    if row is None:
        return not_found()
    return page("report", token=token, done=False, report_address=_config(runtime).report_address)


@post("/t/{token:str}/report", include_in_schema=False, status_code=200)
async def report(token: str, runtime: Runtime) -> Response:
    row = await tracking.recipient_by_token(runtime, token)
    if row is None:
        return not_found()
    await tracking.record_report(runtime, row, "link")
    return page("report", token=token, done=True, report_address=_config(runtime).report_address)


PAGES = [open_pixel, click, landing, submit, learn, answer_quiz, report_form, report]
