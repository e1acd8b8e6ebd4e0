"""Configuration from environment variables, all prefixed ``OTASUKE_``.

See docs/configuration.md for the full list. Unset URLs mean "start the
embedded server" in ``otasuke run`` and the test fixtures.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PREFIX = "OTASUKE_"

DEFAULT_PORTS = {
    "helpdesk_bot": 8000,
    "diagnosis": 8001,
    "telemetry": 8002,
    "training": 8003,
    "insurance": 8004,
}


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(PREFIX + name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    nats_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path(".otasuke")
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    stream_replicas: int = 1
    signing_key: str | None = None
    trace_exporter: str = "none"
    otlp_endpoint: str | None = None
    trace_sample_ratio: float = 0.01
    """Share of high-volume pipeline traces (one per detection lot) recorded; request traces always are."""
    log_level: str = "info"
    local_partner: str = "local"

    @classmethod
    def from_env(cls) -> "Settings":
        ports = dict(DEFAULT_PORTS)
        for service in ports:
            value = env(f"{service.upper()}_PORT")
            if value:
                ports[service] = int(value)
        data_dir = Path(env("DATA_DIR", ".otasuke")).resolve()
        key = env("SIGNING_KEY")
        key_file = env("SIGNING_KEY_FILE")
        if not key and key_file and Path(key_file).exists():
            key = Path(key_file).read_text().strip()
        return cls(
            nats_url=env("NATS_URL"),
            database_url=env("DATABASE_URL"),
            data_dir=data_dir,
            host=env("HOST", "127.0.0.1"),
            ports=ports,
            stream_replicas=int(env("STREAM_REPLICAS", "1")),
            signing_key=key,
            trace_exporter=env("TRACE_EXPORTER", "none"),
            otlp_endpoint=env("OTLP_ENDPOINT"),
            trace_sample_ratio=_ratio("TRACE_SAMPLE_RATIO", 0.01),
            log_level=env("LOG_LEVEL", "info"),
            local_partner=env("LOCAL_PARTNER", "local"),
        )

    def port(self, service: str) -> int:
        return self.ports[service]

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.port(service)}"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def require_signing_key(self) -> str:
        if not self.signing_key:
            raise RuntimeError(
                "no signing key: set OTASUKE_SIGNING_KEY or OTASUKE_SIGNING_KEY_FILE "
                "(`otasuke run` creates one in .otasuke/signing.key)"
            )
        return self.signing_key

    def as_env(self) -> dict[str, str]:
        """The environment that gives a child process these settings."""
        out = {
            PREFIX + "DATA_DIR": str(self.data_dir),
            PREFIX + "HOST": self.host,
            PREFIX + "STREAM_REPLICAS": str(self.stream_replicas),
            PREFIX + "TRACE_EXPORTER": self.trace_exporter,
            PREFIX + "TRACE_SAMPLE_RATIO": repr(self.trace_sample_ratio),
            PREFIX + "LOG_LEVEL": self.log_level,
            PREFIX + "LOCAL_PARTNER": self.local_partner,
        }
        for service, port in self.ports.items():
            out[f"{PREFIX}{service.upper()}_PORT"] = str(port)
        if self.nats_url:
            out[PREFIX + "NATS_URL"] = self.nats_url
        if self.database_url:
            out[PREFIX + "DATABASE_URL"] = self.database_url
        if self.signing_key:
            out[PREFIX + "SIGNING_KEY"] = self.signing_key
        if self.otlp_endpoint:
            out[PREFIX + "OTLP_ENDPOINT"] = self.otlp_endpoint
        return out


def _ratio(name: str, default: float) -> float:
    raw = env(name)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        raise ValueError(f"{PREFIX}{name} must be a number between 0 and 1, not {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{PREFIX}{name} must be between 0 and 1, not {value}")
    return value


def ensure_signing_key(data_dir: Path) -> str:
    """The local deployment key, created once in ``.otasuke/signing.key``."""
    path = data_dir / "signing.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
