"""The help desk's NLU route: ``POST /api/v1/nlu/parse`` (authenticated like every API)."""
from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import post
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from otasuke.platform.service import Runtime

from .client import BotUnavailable, bot_client


FALLBACK_INTENT = "nlu_fallback"


class ParseRequest(msgspec.Struct, frozen=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


@post("/api/v1/nlu/parse", status_code=HTTP_200_OK, tags=["nlu"])
async def parse_text(data: ParseRequest, runtime: Runtime) -> dict[str, Any]:
    """Intent and entities of a Japanese message, in the shape of Rasa's ``/model/parse``.

    ``intent`` is always one of the bot's own intents. Rasa's FallbackClassifier replaces a
    low-confidence intent with ``nlu_fallback``; that is a dialogue decision (the bot asks a
    clarifying question), so it is reported as ``"clarify": true`` beside the best real intent
    instead of hiding which intent the model read.
    """
    try:
        result = await bot_client(runtime.settings).parse(data.text)
    except BotUnavailable as exc:
        raise HTTPException(status_code=HTTP_503_SERVICE_UNAVAILABLE, detail="the NLU model is not available yet") from exc
    ranking = [r for r in result.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    intent = result.get("intent") or {"name": None, "confidence": 0.0}
    clarify = intent.get("name") == FALLBACK_INTENT
    if clarify and ranking:
        intent = ranking[0]
    return {
        "text": result.get("text", data.text),
        "intent": intent,
        "entities": result.get("entities") or [],
        "intent_ranking": ranking,
        "clarify": clarify,
    }


routes: list = [parse_text]
