"""Where the Rasa server and the action server listen (``OTASUKE_RASA_*``)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from otasuke.platform.settings import env

RASA_PROJECT = Path(__file__).resolve().parents[4] / "rasa"
"""services/helpdesk_bot/rasa: the Rasa project (config, data, actions, models)."""
REPO_ROOT = RASA_PROJECT.parents[2]
MODEL = RASA_PROJECT / "models" / "helpdesk.tar.gz"


def rasa_venv() -> Path:
    return Path(env("RASA_VENV", str(REPO_ROOT / ".venv-rasa")))


def rasa_port() -> int:
    return int(env("RASA_PORT", "5005"))


def actions_port() -> int:
    return int(env("RASA_ACTIONS_PORT", "5055"))


def rasa_url() -> str:
    return env("RASA_URL") or f"http://{env('HOST', '127.0.0.1')}:{rasa_port()}"


def rasa_token(signing_key: str | None) -> str | None:
    """Rasa's HTTP API token, derived from the deployment key (so nothing else to configure)."""
    explicit = env("RASA_TOKEN")
    if explicit:
        return explicit
    if not signing_key:
        return None
    return hashlib.sha256(b"otasuke-rasa-api:" + signing_key.encode()).hexdigest()
