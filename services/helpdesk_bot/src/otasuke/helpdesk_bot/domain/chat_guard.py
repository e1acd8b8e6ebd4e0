"""Counts a conversation keeps between turns, as events so that restarts and replicas agree.

* ``link_guard``: wrong link codes in a row. Codes are 8 digits; without a lock a
  script could guess one. The lock is an event an operator can see.
* ``bot_turns``: turns in a row the bot could not answer; the second hands over.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from otasuke.events import Aggregate, Envelope
from otasuke.events.schemas.helpdesk import (
    BotMissed,
    BotMissesCleared,
    LinkAttemptFailed,
    LinkAttemptsCleared,
    LinkLocked,
)

LINK_GUARD = "link_guard"
BOT_TURNS = "bot_turns"
MISSES_BEFORE_HANDOFF = 2


class LinkGuard(msgspec.Struct, frozen=True):
    failures: int = 0
    locked_until: datetime | None = None


def _evolve_link(state: LinkGuard, env: Envelope) -> LinkGuard:
    d = env.data
    if isinstance(d, LinkAttemptFailed):
        return LinkGuard(d.failures, None)
    if isinstance(d, LinkLocked):
        return LinkGuard(d.failures, d.until)
    if isinstance(d, LinkAttemptsCleared):
        return LinkGuard()
    return state


LINK = Aggregate(initial=LinkGuard, evolve=_evolve_link)


def is_locked(state: LinkGuard, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def link_failed(state: LinkGuard, conv: str, limit: int, lock_for: timedelta, now: datetime) -> list:
    """One more wrong code; the one that reaches ``limit`` locks the chat user out for ``lock_for``."""
    if is_locked(state, now):
        return []
    # A lock that ran out starts the count again: one more try, not one more lock period.
    failures = (0 if state.locked_until is not None else state.failures) + 1
    events: list = [LinkAttemptFailed(conversation_id=conv, failures=failures)]
    if failures >= limit:
        events.append(LinkLocked(conversation_id=conv, failures=failures, until=now + lock_for))
    return events


def link_succeeded(state: LinkGuard, conv: str) -> list:
    return [LinkAttemptsCleared(conversation_id=conv)] if state.failures else []


class BotTurns(msgspec.Struct, frozen=True):
    misses: int = 0


def _evolve_turns(state: BotTurns, env: Envelope) -> BotTurns:
    if isinstance(env.data, BotMissed):
        return BotTurns(env.data.misses)
    if isinstance(env.data, BotMissesCleared):
        return BotTurns()
    return state


TURNS = Aggregate(initial=BotTurns, evolve=_evolve_turns)


def bot_turn(state: BotTurns, conv: str, missed: bool) -> list:
    """A miss adds one; an answer after misses clears them (no event for the usual answered turn)."""
    if missed:
        return [BotMissed(conversation_id=conv, misses=state.misses + 1)]
    return [BotMissesCleared(conversation_id=conv)] if state.misses else []


def handed_over(state: BotTurns, conv: str) -> list:
    return [BotMissesCleared(conversation_id=conv)] if state.misses else []
