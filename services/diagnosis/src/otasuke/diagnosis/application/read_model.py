"""The diagnoses read model: which diagnosis belongs to whom, its answers and result.

Used to find a diagnosis by id (its tenant names the aggregate's subject), to
list a company's diagnoses, and for the partner's statistics. Disposable:
``otasuke events rebuild diagnosis.diagnoses`` replays it from the stream.
"""
from __future__ import annotations

import asyncpg
import msgspec

from otasuke.events import Projection, Recorded
from otasuke.events.schemas.diagnosis import AnswerRecorded, DiagnosisCompleted, DiagnosisStarted
from otasuke.events.streams import DIAGNOSIS

PROJECTION = "diagnosis.diagnoses"


class DiagnosesReadModel(Projection):
    name = PROJECTION
    stream = DIAGNOSIS.name
    filter_subjects = ("diagnosis.>",)
    event_types = frozenset({"diagnosis.started", "diagnosis.answer_recorded", "diagnosis.completed"})
    tables = ("diagnoses", "diagnosis_answers")
    schema = """
    CREATE TABLE IF NOT EXISTS diagnoses (
        diagnosis_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        questionnaire_version text NOT NULL,
        industry text NOT NULL,
        security_action text NOT NULL,
        previous_diagnosis_id text,
        started_at timestamptz NOT NULL,
        completed_at timestamptz,
        score integer,
        band text,
        areas jsonb
    );
    CREATE INDEX IF NOT EXISTS diagnoses_company ON diagnoses (company_id, started_at);
    CREATE INDEX IF NOT EXISTS diagnoses_partner ON diagnoses (partner_id) WHERE completed_at IS NOT NULL;
    CREATE TABLE IF NOT EXISTS diagnosis_answers (
        diagnosis_id text NOT NULL,
        question_id text NOT NULL,
        implemented boolean,
        items text[] NOT NULL,
        auto_filled boolean NOT NULL,
        PRIMARY KEY (diagnosis_id, question_id)
    );
    """

    async def apply(self, conn: asyncpg.Connection, event: Recorded) -> None:
        env = event.envelope
        data = env.data
        if isinstance(data, DiagnosisStarted):
            await conn.execute(
                """INSERT INTO diagnoses (diagnosis_id, partner_id, company_id, questionnaire_version, industry,
                       security_action, previous_diagnosis_id, started_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (diagnosis_id) DO NOTHING""",
                data.diagnosis_id, env.partner_id, env.company_id, data.questionnaire_version, data.industry,
                data.security_action, data.previous_diagnosis_id, env.occurred_at,
            )
        elif isinstance(data, AnswerRecorded):
            await conn.execute(
                """INSERT INTO diagnosis_answers VALUES ($1,$2,$3,$4,$5)
                   ON CONFLICT (diagnosis_id, question_id) DO UPDATE
                   SET implemented=$3, items=$4, auto_filled=$5""",
                env.aggregate_id, data.question_id, data.implemented, list(data.items), data.auto_filled,
            )
        elif isinstance(data, DiagnosisCompleted):
            await conn.execute(
                """UPDATE diagnoses SET completed_at=$2, score=$3, band=$4, areas=$5::jsonb WHERE diagnosis_id=$1""",
                data.diagnosis_id, env.occurred_at, data.score, data.band,
                msgspec.json.encode(data.areas).decode(),
            )


async def find(conn: asyncpg.Pool | asyncpg.Connection, diagnosis_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM diagnoses WHERE diagnosis_id=$1", diagnosis_id)


async def for_company(conn: asyncpg.Pool | asyncpg.Connection, company_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM diagnoses WHERE company_id=$1 ORDER BY started_at DESC, diagnosis_id DESC", company_id
    )


async def latest_completed(
    conn: asyncpg.Pool | asyncpg.Connection, company_id: str, *, before_id: str | None = None
) -> asyncpg.Record | None:
    """The company's most recent completed diagnosis (other than ``before_id``)."""
    return await conn.fetchrow(
        """SELECT * FROM diagnoses WHERE company_id=$1 AND completed_at IS NOT NULL
           AND diagnosis_id IS DISTINCT FROM $2 ORDER BY completed_at DESC LIMIT 1""",
        company_id, before_id,
    )
