"""The bot's brain (the `nlu` package, built separately) as the chat sees it: one shared client."""
from __future__ import annotations

from typing import Any


class BotUnavailable(RuntimeError):
    pass


class LazyBot:
    """Creates the client on first use, so the help desk starts even while Rasa is still loading."""

    def __init__(self, settings: Any = None) -> None:
        self._settings = settings
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            from .. import nlu

            factory = getattr(nlu, "bot_client", None)
            if factory is None:
                raise BotUnavailable("the nlu package provides no bot_client()")
            self._client = factory(self._settings)
        return self._client

    async def close(self) -> None:
        closer = getattr(self._client, "close", None) or getattr(self._client, "aclose", None)
        if closer is not None:
            result = closer()
            if hasattr(result, "__await__"):
                await result
