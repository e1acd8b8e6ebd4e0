"""The Rasa server and the action server, started by ``otasuke run`` next to the help desk."""
from __future__ import annotations

from otasuke.platform.service import Sidecar
from otasuke.platform.settings import Settings

from .location import MODEL, RASA_PROJECT, actions_port, rasa_port, rasa_token, rasa_venv


def rasa_env(settings: Settings) -> dict[str, str]:
    """Environment of both Rasa processes: the same OTASUKE_* settings plus where things are."""
    env = {
        **settings.as_env(),
        "PYTHONPATH": str(RASA_PROJECT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OTASUKE_RASA_ACTIONS_URL": f"http://{settings.host}:{actions_port()}/webhook",
    }
    return env


def rasa_server_argv(settings: Settings, port: int | None = None) -> list[str]:
    argv = [
        str(rasa_venv() / "bin" / "rasa"), "run",
        "--enable-api",
        "--interface", settings.host,
        "--port", str(port or rasa_port()),
        "--model", str(MODEL),
        "--endpoints", str(RASA_PROJECT / "endpoints.yml"),
        "--credentials", str(RASA_PROJECT / "credentials.yml"),
    ]
    token = rasa_token(settings.signing_key)
    if token:
        argv += ["--auth-token", token]
    return argv


def action_server_argv(port: int | None = None) -> list[str]:
    return [str(rasa_venv() / "bin" / "python"), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port or actions_port())]


def sidecars(settings: Settings) -> list[Sidecar]:
    env = rasa_env(settings)
    return [
        Sidecar("helpdesk_rasa_actions", action_server_argv(), port=actions_port(), env=env, cwd=str(RASA_PROJECT)),
        Sidecar("helpdesk_rasa", rasa_server_argv(settings), port=rasa_port(), env=env, cwd=str(RASA_PROJECT)),
    ]
