"""Container images and the Tiltfile, checked without a Docker engine or a cluster.

Images: each Dockerfile parses (dockerfile-parse), its base images are pinned
to an exact version, it builds in several stages and runs as a non-root user,
what it COPYs from the build context exists, and the module it starts exists
in the workspace.

Tiltfile: Starlark has Python's syntax, so it is parsed with Python's ``ast``
and rejected if it uses what Starlark lacks (while, class, try, import...).
It is then evaluated with stand-ins for Tilt's built-ins that record every
call (``local`` really runs, so the YAML Tilt applies is really rendered).
"""
import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from infra_support import ROOT, by_kind, dockerfile_structure
from otasuke.platform.settings import DEFAULT_PORTS

IMAGES = ROOT / "infra" / "images"
SERVICE_DOCKERFILES = {svc: IMAGES / f"{svc}.Dockerfile" for svc in DEFAULT_PORTS}
RASA_DOCKERFILES = [IMAGES / "rasa.Dockerfile", IMAGES / "rasa_actions.Dockerfile"]
PINNED = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*(@sha256:[0-9a-f]{64})?$")


def parsed(path: Path) -> tuple[list[dict], dict[str, str]]:
    """Instructions, and ARG defaults substituted into them."""
    structure = dockerfile_structure(path)
    args = {}
    for ins in structure:
        if ins["instruction"] == "ARG" and "=" in ins["value"]:
            key, value = ins["value"].split("=", 1)
            args.setdefault(key.strip(), value.strip())

    def expand(text: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), text)

    return [{**ins, "value": expand(ins["value"])} for ins in structure], args


@pytest.mark.parametrize("path", [*SERVICE_DOCKERFILES.values(), *RASA_DOCKERFILES], ids=lambda p: p.name)
def test_each_image_is_pinned_multi_stage_non_root_and_copies_what_exists(path):
    instructions, _ = parsed(path)
    froms = [i["value"].split()[0] for i in instructions if i["instruction"] == "FROM"]
    stages = {i["value"].split()[-1] for i in instructions if i["instruction"] == "FROM" and " AS " in i["value"].upper()}
    assert len(froms) >= 3, "expected a uv stage, a build stage and a runtime stage"
    for base in froms:
        assert base in stages or PINNED.match(base), f"{path.name}: base image {base} is not pinned to a version"
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0"), f"{path.name} must end as a non-root user"
    for ins in instructions:
        if ins["instruction"] != "COPY" or "--from=" in ins["value"]:
            continue
        *sources, _dest = [w for w in ins["value"].split() if not w.startswith("--")]
        for src in sources:
            assert (ROOT / src).exists(), f"{path.name}: COPY {src} does not exist in the workspace"
    assert (path.parent / (path.name + ".dockerignore")).exists(), "keep .venv and .git out of the build context"


@pytest.mark.parametrize("service", DEFAULT_PORTS)
def test_each_service_image_starts_a_module_that_exists_on_its_port(service):
    instructions, _ = parsed(SERVICE_DOCKERFILES[service])
    entry = [i for i in instructions if i["instruction"] == "ENTRYPOINT"][-1]
    argv = yaml.safe_load(entry["value"])
    assert argv[:2] == ["python", "-m"]
    module = argv[2]
    package_dir = ROOT / "services" / service / "src" / Path(*module.split("."))
    assert (package_dir / "__main__.py").exists(), f"{module} has no __main__.py"
    assert f'serve("{service}")' in (package_dir / "__main__.py").read_text()
    exposed = [i["value"] for i in instructions if i["instruction"] == "EXPOSE"]
    assert exposed == [str(DEFAULT_PORTS[service])]
    sync = next(i["value"] for i in instructions if i["instruction"] == "RUN" and "uv sync" in i["value"])
    assert "--frozen" in sync and f"--package otasuke-{service.replace('_', '-')}" in sync


def test_the_rasa_images_install_the_bots_own_environment():
    for path in RASA_DOCKERFILES:
        instructions, args = parsed(path)
        assert args["PYTHON_IMAGE"].startswith("python:3.10."), "Rasa 3.6 needs Python 3.10"
        copied = [i["value"] for i in instructions if i["instruction"] == "COPY" and "requirements.txt" in i["value"]]
        assert copied and (ROOT / copied[0].split()[0]).exists()
    rasa_args = parsed(IMAGES / "rasa.Dockerfile")[0]
    cmd = yaml.safe_load([i for i in rasa_args if i["instruction"] == "CMD"][-1]["value"])
    assert cmd[:2] == ["run", "--enable-api"] and "5005" in cmd


# -- Tiltfile ---------------------------------------------------------------

NOT_STARLARK = (ast.While, ast.ClassDef, ast.Try, ast.Import, ast.ImportFrom, ast.With, ast.Global,
                ast.Nonlocal, ast.Yield, ast.AsyncFunctionDef, ast.Await, ast.Raise)


class TiltRecorder:
    """Stand-ins for the Tilt built-ins the Tiltfile uses; each call is recorded."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.yaml: list[dict] = []

    def record(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return (name, args, kwargs)

        return call

    def local(self, command, quiet=False, **kw):
        self.calls.append(("local", (command,), kw))
        out = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def k8s_yaml(self, text, **kw):
        self.calls.append(("k8s_yaml", (text,), kw))
        self.yaml += [d for d in yaml.safe_load_all(text) if d]

    def load(self, module, *names):
        self.calls.append(("load", (module, *names), {}))
        for name in names:
            self.globals[name] = self.record(name)

    def namespace(self) -> dict:
        class Os:
            @staticmethod
            def getenv(name, default=None):
                return default  # the Tiltfile's defaults, whatever this shell has set

        names = ["docker_build", "k8s_resource", "allow_k8s_contexts", "sync", "run", "fall_back_on"]
        self.globals = {n: self.record(n) for n in names}
        self.globals.update(local=self.local, k8s_yaml=self.k8s_yaml, load=self.load, blob=lambda s: s, os=Os,
                            str=str, __builtins__={"str": str, "range": range, "len": len})
        return self.globals

    def of(self, name):
        return [(a, k) for n, a, k in self.calls if n == name]


@pytest.fixture(scope="module")
def tilt():
    source = (ROOT / "Tiltfile").read_text()
    tree = ast.parse(source, "Tiltfile")
    bad = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, NOT_STARLARK)]
    assert not bad, f"not Starlark: {bad}"
    recorder = TiltRecorder()
    exec(compile(tree, "Tiltfile", "exec"), recorder.namespace())
    return recorder


def test_the_tiltfile_builds_every_service_with_live_reload_of_libs_and_services(tilt):
    builds = {args[0]: kw for args, kw in tilt.of("docker_build_with_restart")}
    assert set(builds) == {f"otasuke/{svc}" for svc in DEFAULT_PORTS}
    for svc in DEFAULT_PORTS:
        kw = builds[f"otasuke/{svc}"]
        assert kw["dockerfile"] == f"infra/images/{svc}.Dockerfile"
        assert kw["entrypoint"] == ["python", "-m", f"otasuke.{svc}"]
        syncs = [step[1] for step in kw["live_update"] if step[0] == "sync"]
        assert ("libs", "/app/libs") in syncs and ("services", "/app/services") in syncs
    assert {args[0] for args, _ in tilt.of("docker_build")} == {"otasuke/rasa", "otasuke/rasa_actions"}


def test_the_tiltfile_applies_the_rendered_local_overlay_and_forwards_every_service_port(tilt):
    workloads = {**by_kind(tilt.yaml, "Deployment"), **by_kind(tilt.yaml, "StatefulSet"), **by_kind(tilt.yaml, "Job")}
    images = {c["image"].split(":")[0] for w in workloads.values() for c in w["spec"]["template"]["spec"]["containers"]}
    built = {args[0] for name in ("docker_build", "docker_build_with_restart") for args, _ in tilt.of(name)}
    assert built <= images, "every image Tilt builds is used by a workload"
    resources = {args[0]: kw for args, kw in tilt.of("k8s_resource")}
    assert set(resources) <= set(workloads)
    for svc, port in DEFAULT_PORTS.items():
        assert resources[svc.replace("_", "-")]["port_forwards"] == [f"{port}:{port}"]
    # The development secrets Tilt creates are the ones the manifests reference.
    secrets = by_kind(tilt.yaml, "Secret")
    assert set(secrets) == {"otasuke-signing-key", "otasuke-line"}
    assert len(secrets["otasuke-signing-key"]["stringData"]["signing-key"]) == 64
