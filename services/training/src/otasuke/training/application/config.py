"""Training-specific settings, from ``OTASUKE_`` environment variables."""
from __future__ import annotations

from dataclasses import dataclass

from otasuke.platform.settings import env


@dataclass(frozen=True)
class TrainingConfig:
    smtp_url: str | None
    public_url: str
    sender_domain: str
    report_address: str
    report_smtp_port: int | None
    min_human_seconds: float
    observe_days: float
    poll_seconds: float

    @classmethod
    def from_env(cls) -> "TrainingConfig":
        domain = env("TRAINING_SENDER_DOMAIN", "training.otasuke.example")
        port = env("TRAINING_REPORT_SMTP_PORT")
        return cls(
            smtp_url=env("SMTP_URL"),
            public_url=(env("TRAINING_PUBLIC_URL", "http://127.0.0.1:8003") or "").rstrip("/"),
            sender_domain=domain,
            report_address=env("TRAINING_REPORT_ADDRESS", f"report@{domain}"),
            report_smtp_port=int(port) if port else None,
            # Clicks faster than this after delivery are taken for a mail scanner.
            min_human_seconds=float(env("TRAINING_MIN_HUMAN_SECONDS", "10")),
            # A campaign closes by itself this long after its last mail went out.
            observe_days=float(env("TRAINING_OBSERVE_DAYS", "14")),
            poll_seconds=float(env("TRAINING_POLL_SECONDS", "0.5")),
        )
