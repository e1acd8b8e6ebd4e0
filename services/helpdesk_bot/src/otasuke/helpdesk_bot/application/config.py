"""Help desk settings read from the environment at start-up (all ``OTASUKE_`` prefixed)."""
from __future__ import annotations

from dataclasses import dataclass

from otasuke.platform.settings import env


@dataclass(frozen=True)
class HelpdeskConfig:
    line_channel_secret: str | None
    line_access_token: str | None
    line_api_base: str
    line_partner_id: str | None
    """The partner whose LINE official account this is (unlinked users belong to it)."""
    tick_seconds: float
    link_code_hours: float
    link_attempts: int
    link_lock_minutes: float
    """How long a chat user who typed too many wrong link codes must wait."""
    alert_context_minutes: float
    """How long after an alert card a typed question is taken to be about that alert."""

    @classmethod
    def from_env(cls) -> "HelpdeskConfig":
        return cls(
            line_channel_secret=env("LINE_CHANNEL_SECRET"),
            line_access_token=env("LINE_CHANNEL_ACCESS_TOKEN"),
            line_api_base=env("LINE_API_BASE", "https://api.line.me"),
            line_partner_id=env("LINE_PARTNER_ID"),
            tick_seconds=float(env("HELPDESK_TICK_SECONDS", "30")),
            link_code_hours=float(env("HELPDESK_LINK_CODE_HOURS", "72")),
            link_attempts=int(env("HELPDESK_LINK_ATTEMPTS", "5")),
            link_lock_minutes=float(env("HELPDESK_LINK_LOCK_MINUTES", "60")),
            alert_context_minutes=float(env("HELPDESK_ALERT_CONTEXT_MINUTES", "120")),
        )
