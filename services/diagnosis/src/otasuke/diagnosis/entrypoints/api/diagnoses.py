"""The diagnosis API: one question at a time, for the web form and the help-desk bot alike."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import HeaderParameter, QueryParameter

from otasuke.platform.auth import Role, issue_token, principal_of, require_partner_staff, require_role
from otasuke.platform.service import Runtime

from ...application import commands, read_model, report, statistics
from ...domain import diagnosis as dg
from ...domain import questionnaire as qn
from ...domain import scoring
from .schemas import (
    CHOICES,
    AreaOut,
    DiagnosisOut,
    LinkOut,
    NextOut,
    QuestionnaireOut,
    ResultOut,
    StartIn,
    AnswerIn,
    SummaryOut,
    answer_out,
    progress,
    question_out,
    questionnaire_out,
)

API = "/api/v1"
FORM_LINK_TTL = timedelta(days=14)


def result_out(diagnosis_id: str, state: dg.Diagnosis, q: qn.Questionnaire) -> ResultOut:
    card = scoring.score(q, state.answers)
    return ResultOut(
        id=diagnosis_id,
        score=card.score,
        max_score=card.max_score,
        band=card.band,
        band_label=card.band_label,
        areas=[AreaOut(area=a.area, label=a.label, score=a.score, max_score=a.max_score, unknown=a.unknown)
               for a in card.areas],
        implemented=card.ids_with("yes"),
        not_implemented=card.ids_with("no"),
        unknown=card.ids_with("unknown"),
        report_html=f"{API}/diagnoses/{diagnosis_id}/report.html",
        report_pdf=f"{API}/diagnoses/{diagnosis_id}/report.pdf",
    )


def diagnosis_out(diagnosis_id: str, company_id: str, state: dg.Diagnosis) -> DiagnosisOut:
    q = qn.load(state.questionnaire_version)
    return DiagnosisOut(
        id=diagnosis_id,
        company_id=company_id,
        questionnaire_version=state.questionnaire_version,
        industry=state.industry,
        security_action=state.security_action,
        status="completed" if state.completed else "in_progress",
        answers={qid: answer_out(a) for qid, a in sorted(state.answers.items())},
        progress=progress(state, q),
        previous_diagnosis_id=state.previous_diagnosis_id,
        result=result_out(diagnosis_id, state, q) if state.completed else None,
    )


def chat_message(question_out_, total: int, prefilled: bool, current) -> str:
    lines = [f"【{question_out_.number}/{total}】{question_out_.text}", f"（なぜ大事？）{question_out_.why}"]
    for t in question_out_.terms:
        lines.append(f"※{t.term}：{t.gloss}")
    if prefilled and current is not None:
        lines.append("SECURITY ACTION の宣言から回答を入れてあります。合っているか確かめてください。")
    return "\n".join(lines)


class QuestionnaireController(Controller):
    path = f"{API}/questionnaire"
    tags = ["diagnosis"]

    @get("/")
    async def current(self, request: Request) -> QuestionnaireOut:
        principal_of(request)
        return questionnaire_out(qn.current())

    @get("/{version:str}")
    async def by_version(self, version: str, request: Request) -> QuestionnaireOut:
        principal_of(request)
        try:
            return questionnaire_out(qn.load(version))
        except LookupError as exc:
            raise NotFoundException(str(exc)) from exc


class DiagnosisController(Controller):
    path = f"{API}/diagnoses"
    tags = ["diagnosis"]

    @post("/", status_code=201)
    async def start(
        self,
        data: StartIn,
        request: Request,
        runtime: Runtime,
        idempotency_key: str | None = HeaderParameter(name="Idempotency-Key", default=None),
    ) -> DiagnosisOut:
        principal = principal_of(request)
        require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN, Role.SERVICE)
        diagnosis_id, state = await commands.start(
            runtime, principal, company_id=data.company_id, industry=data.industry,
            security_action=data.security_action, idempotency_key=idempotency_key,
        )
        return diagnosis_out(diagnosis_id, data.company_id, state)

    @get("/")
    async def list_for_company(
        self, request: Request, runtime: Runtime, company_id: str = QueryParameter(name="company_id")
    ) -> list[SummaryOut]:
        await commands.company_of(runtime, principal_of(request), company_id)
        rows = await read_model.for_company(runtime.pool, company_id)
        return [
            SummaryOut(
                id=r["diagnosis_id"], company_id=r["company_id"],
                status="completed" if r["completed_at"] else "in_progress",
                started_at=r["started_at"].isoformat(),
                completed_at=r["completed_at"].isoformat() if r["completed_at"] else None,
                score=r["score"], band=r["band"],
            )
            for r in rows
        ]

    @get("/{diagnosis_id:str}")
    async def get_one(self, diagnosis_id: str, request: Request, runtime: Runtime) -> DiagnosisOut:
        located = await commands.locate(runtime, principal_of(request), diagnosis_id)
        state, _ = await commands.state_of(runtime, located)
        return diagnosis_out(diagnosis_id, located.row["company_id"], state)

    @put("/{diagnosis_id:str}/answers/{question_id:str}")
    async def answer(
        self, diagnosis_id: str, question_id: str, data: AnswerIn, request: Request, runtime: Runtime
    ) -> DiagnosisOut:
        principal = principal_of(request)
        require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN, Role.SERVICE)
        state = await commands.answer(runtime, principal, diagnosis_id, question_id, data.implemented, data.items)
        located = await commands.locate(runtime, principal, diagnosis_id)
        return diagnosis_out(diagnosis_id, located.row["company_id"], state)

    @get("/{diagnosis_id:str}/next")
    async def next_question(self, diagnosis_id: str, request: Request, runtime: Runtime) -> NextOut:
        located = await commands.locate(runtime, principal_of(request), diagnosis_id)
        state, q = await commands.state_of(runtime, located)
        prog = progress(state, q)
        base = f"{API}/diagnoses/{diagnosis_id}"
        nxt = None if state.completed else dg.next_question(state, q)
        if nxt is None:
            message = ("診断は完了しています。" if state.completed
                       else "すべての質問に答えました。「診断を完了」で点数とレポートをお出しします。")
            return NextOut(diagnosis_id=diagnosis_id, done=True, progress=prog, message=message,
                           complete_url=f"{base}/complete")
        out = question_out(q, nxt)
        current = state.answers.get(nxt.id)
        prefilled = current is not None and current.auto_filled
        return NextOut(
            diagnosis_id=diagnosis_id, done=False, progress=prog, question=out, choices=CHOICES,
            prefilled=prefilled, current=answer_out(current) if current else None,
            message=chat_message(out, len(q.questions), prefilled, current),
            answer_url=f"{base}/answers/{nxt.id}", complete_url=f"{base}/complete",
        )

    @post("/{diagnosis_id:str}/complete", status_code=200)
    async def complete(self, diagnosis_id: str, request: Request, runtime: Runtime) -> ResultOut:
        principal = principal_of(request)
        require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN, Role.SERVICE)
        state = await commands.complete(runtime, principal, diagnosis_id)
        return result_out(diagnosis_id, state, qn.load(state.questionnaire_version))

    @get("/{diagnosis_id:str}/comparison")
    async def comparison(self, diagnosis_id: str, request: Request, runtime: Runtime) -> dict:
        principal = principal_of(request)
        located = await commands.locate(runtime, principal, diagnosis_id)
        ctx = await report.comparison_with_previous(runtime, principal, located)
        if ctx is None:
            raise NotFoundException("there is no earlier completed diagnosis of this company to compare with")
        return ctx

    @get("/{diagnosis_id:str}/report.html", media_type="text/html; charset=utf-8")
    async def report_html(self, diagnosis_id: str, request: Request, runtime: Runtime) -> str:
        principal = principal_of(request)
        located = await commands.locate(runtime, principal, diagnosis_id)
        return await report.render_html(runtime, principal, located)

    @get("/{diagnosis_id:str}/report.pdf", media_type="application/pdf")
    async def report_pdf(self, diagnosis_id: str, request: Request, runtime: Runtime) -> Response[bytes]:
        principal = principal_of(request)
        located = await commands.locate(runtime, principal, diagnosis_id)
        pdf = await report.render_pdf(runtime, principal, located)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="diagnosis-{diagnosis_id}.pdf"'})


class StatisticsController(Controller):
    path = f"{API}/statistics"
    tags = ["diagnosis"]

    @get("/")
    async def partner(self, request: Request, runtime: Runtime) -> statistics.PartnerStatistics:
        principal = principal_of(request)
        require_partner_staff(principal)
        return await statistics.partner_statistics(runtime.pool, principal.partner_id, qn.current())


class FormLinkController(Controller):
    path = f"{API}/companies"
    tags = ["diagnosis"]

    @post("/{company_id:str}/diagnosis-link", status_code=201)
    async def create(self, company_id: str, request: Request, runtime: Runtime) -> LinkOut:
        """A link to the web form for one company: it carries a company-admin token valid 14 days.

        The token sits in the URL fragment (after ``#``), which browsers never
        send to a server, so it does not end up in access logs.
        """
        principal = principal_of(request)
        # Not company admins: a token must not be able to mint itself a longer-lived one.
        require_role(principal, Role.OPERATOR, Role.SERVICE)
        company = await commands.company_of(runtime, principal, company_id)
        token = issue_token(
            runtime.settings.require_signing_key(), subject=f"form-link:{principal.subject}",
            role=Role.COMPANY_ADMIN, partner_id=company["partner_id"], company_id=company_id, ttl=FORM_LINK_TTL,
        )
        expires = datetime.now(UTC) + FORM_LINK_TTL
        url = f"{runtime.settings.url('diagnosis')}/diagnosis/form#company={company_id}&token={token}"
        return LinkOut(url=url, expires_at=expires.isoformat(timespec="seconds"))
