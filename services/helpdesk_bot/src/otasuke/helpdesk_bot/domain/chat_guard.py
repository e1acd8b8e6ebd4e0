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
    LinkLockLifted,
)

LINK_GUARD = "link_guard"
BOT_TURNS = "bot_turns"
MISSES_BEFORE_HANDOFF = 2


class LinkGuard(msgspec.Struct, frozen=True):
    failures: int = 0
    locked_until: datetime | None = None
    last_turn: str | None = None  # the turn that counted last: a redelivery of it does not count again


def _evolve_link(state: LinkGuard, env: Envelope) -> LinkGuard:
    d = env.data
    if isinstance(d, LinkAttemptFailed):
        return LinkGuard(d.failures, None, d.turn_id)
    if isinstance(d, LinkLocked):
        return LinkGuard(d.failures, d.until, state.last_turn)
    if isinstance(d, (LinkAttemptsCleared, LinkLockLifted)):
        return LinkGuard()
    return state


LINK = Aggregate(initial=LinkGuard, evolve=_evolve_link)


def is_locked(state: LinkGuard, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def link_failed(state: LinkGuard, conv: str, limit: int, lock_for: timedelta, now: datetime,
                turn_id: str | None = None) -> list:
    """One more wrong code; the one that reaches ``limit`` locks the chat user out for ``lock_for``."""
    if is_locked(state, now) or (turn_id is not None and turn_id == state.last_turn):
        return []
    # A lock that ran out starts the count again: one more try, not one more lock period.
    failures = (0 if state.locked_until is not None else state.failures) + 1
    events: list = [LinkAttemptFailed(conversation_id=conv, failures=failures, turn_id=turn_id)]
    if failures >= limit:
        events.append(LinkLocked(conversation_id=conv, failures=failures, until=now + lock_for))
    return events


def lift_lock(state: LinkGuard, conv: str, reason: str | None, now: datetime) -> list:
    """An operator lets the user try again now; lifting a lock that is not there changes nothing."""
    return [LinkLockLifted(conversation_id=conv, reason=reason)] if is_locked(state, now) else []


def link_succeeded(state: LinkGuard, conv: str) -> list:
    return [LinkAttemptsCleared(conversation_id=conv)] if state.failures else []


class BotTurns(msgspec.Struct, frozen=True):
    misses: int = 0
    last_turn: str | None = None  # the turn that missed last: a redelivery of it does not count again


def _evolve_turns(state: BotTurns, env: Envelope) -> BotTurns:
    if isinstance(env.data, BotMissed):
        return BotTurns(env.data.misses, env.data.turn_id)
    if isinstance(env.data, BotMissesCleared):
        return BotTurns()
    return state


TURNS = Aggregate(initial=BotTurns, evolve=_evolve_turns)


def bot_turn(state: BotTurns, conv: str, missed: bool, turn_id: str | None = None) -> list:
    """A miss adds one; an answer after misses clears them (no event for the usual answered turn)."""
    if turn_id is not None and turn_id == state.last_turn:
        return []  # the same turn redelivered: already counted
    if missed:
        return [BotMissed(conversation_id=conv, misses=state.misses + 1, turn_id=turn_id)]
    return [BotMissesCleared(conversation_id=conv)] if state.misses else []


def handed_over(state: BotTurns, conv: str) -> list:
    return [BotMissesCleared(conversation_id=conv)] if state.misses else []
