"""The Kubernetes manifests, checked without a cluster: they render, validate, and say what we promise.

A partner applying ``make manifests REGION=<region>`` gets services that are
probed on /readyz and /healthz, a 3-node JetStream cluster in the partner's own
domain, R3 streams, PostgreSQL from CloudNativePG, secrets referenced but never
shipped.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from infra_support import PARTNER_REGIONS, ROOT, by_kind, regions, render_text, rendered, tool
from otasuke.platform.embedded import nats_server_binary
from otasuke.platform.settings import DEFAULT_PORTS

CRD_GROUPS = ("postgresql.cnpg.io/",)


def deployment_for(docs, service: str) -> dict:
    return by_kind(docs, "Deployment")[service.replace("_", "-")]


@pytest.mark.parametrize("region", regions())
def test_every_region_renders_and_validates_against_the_kubernetes_schemas(region, tmp_path):
    docs = rendered(region)
    builtin = [d for d in docs if not d["apiVersion"].startswith(CRD_GROUPS)]
    out = tmp_path / f"{region}.yaml"
    out.write_text(yaml.safe_dump_all(builtin))
    result = subprocess.run([*tool("kubernetes-validate"), "--strict", "--quiet", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "Couldn't find schema" not in result.stdout, result.stdout
    # Everything of a region lives in its namespace.
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {by_kind(docs, "Namespace").popitem()[0]}


@pytest.mark.parametrize("region", [r for r in regions() if r != "national"])
def test_the_cloudnativepg_resources_are_well_formed(region):
    docs = rendered(region)
    clusters = by_kind(docs, "Cluster")
    assert list(clusters) == ["otasuke-pg"]
    spec = clusters["otasuke-pg"]["spec"]
    assert isinstance(spec["instances"], int) and spec["instances"] >= 1
    assert re.fullmatch(r"\d+(Gi|Mi|Ti)", spec["storage"]["size"])
    assert spec["bootstrap"]["initdb"]["database"] == "otasuke"
    assert re.fullmatch(r"ghcr\.io/cloudnative-pg/postgresql:\d+\.\d+", spec["imageName"])
    for backup in by_kind(docs, "ScheduledBackup").values():
        assert backup["spec"]["cluster"]["name"] in clusters
        assert len(backup["spec"]["schedule"].split()) == 6  # CNPG cron has seconds
    if region != "local":
        store = spec["backup"]["barmanObjectStore"]
        assert store["destinationPath"] == f"s3://otasuke-{region}-backups/postgres"
        assert store["s3Credentials"]["accessKeyId"]["name"] == "otasuke-pg-backup"


@pytest.mark.parametrize("region", PARTNER_REGIONS)
def test_each_service_is_probed_sized_and_configured_for_three_stream_replicas(region):
    docs = rendered(region)
    env = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("otasuke-env"))
    assert env["data"]["OTASUKE_STREAM_REPLICAS"] == "3"
    assert env["data"]["OTASUKE_LOCAL_PARTNER"] == region
    assert env["data"]["OTASUKE_NATS_URL"] == "nats://nats:4222"
    for service, port in DEFAULT_PORTS.items():
        dep = deployment_for(docs, service)
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"registry.{region}.otasuke.example/otasuke/{service}:0.1.0"
        assert container["ports"][0]["containerPort"] == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert container["envFrom"] == [{"configMapRef": {"name": env["metadata"]["name"]}}]
        names = {e["name"]: e for e in container["env"]}
        assert names["OTASUKE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "otasuke-pg-app", "key": "uri"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert any(v.get("secret", {}).get("secretName") == "otasuke-signing-key" for v in pod["volumes"])
    helpdesk = {e["name"]: e for e in deployment_for(docs, "helpdesk_bot")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert helpdesk["OTASUKE_LINE_CHANNEL_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "otasuke-line"
    # Detection work is spread over several telemetry replicas (one shared durable consumer).
    assert deployment_for(docs, "telemetry")["spec"]["replicas"] >= 3
    assert by_kind(docs, "HorizontalPodAutoscaler")["telemetry"]["spec"]["minReplicas"] >= 3


def test_no_secret_is_committed_or_rendered():
    for region in regions():
        assert not [d for d in rendered(region) if d["kind"] == "Secret"], region
    for path in (ROOT / "infra").rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json", ".conf"):
            assert "kind: Secret" not in path.read_text(), path


@pytest.mark.parametrize("region", regions())
def test_nats_is_a_three_node_jetstream_cluster_in_the_regions_own_domain(region, tmp_path):
    docs = rendered(region)
    sts = by_kind(docs, "StatefulSet")["nats"]
    assert sts["spec"]["replicas"] == 3
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("nats-config"))
    conf = config["data"]["nats.conf"]
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", conf)
    assert routes == [f"nats-{i}" for i in range(sts["spec"]["replicas"])]
    # The real nats-server accepts the configuration as the pod would see it.
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    domain = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("otasuke-env"))
    partner = domain["data"]["OTASUKE_LOCAL_PARTNER"]
    assert partner == region
    check = subprocess.run([nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path,
                           env={**os.environ, "POD_NAME": "nats-0", "JS_DOMAIN": partner})
    assert check.returncode == 0, check.stdout + check.stderr
    leaf = config["data"]["leafnodes.conf"]
    if region in PARTNER_REGIONS:
        assert "remotes" in leaf and "/etc/nats-leaf/leaf.creds" in leaf
        mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "leaf-credentials", "mountPath": "/etc/nats-leaf", "readOnly": True} in mounts
    if region == "national":
        assert "port: 7422" in leaf


def test_the_national_hub_sources_anonymised_counts_from_every_partner_domain():
    docs = rendered("national")
    streams = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("nats-streams"))
    national = yaml.safe_load(streams["data"]["national_stats.json"])
    sourced = {s["external"]["api"]: s for s in national["sources"]}
    assert set(sourced) == {f"$JS.{r}.API" for r in PARTNER_REGIONS}
    for region in PARTNER_REGIONS:
        source = sourced[f"$JS.{region}.API"]
        assert source["name"] == "STATS" and source["filter_subject"] == f"stats.{region}.>"
    assert "subjects" not in national  # filled by sourcing only: nothing is published to it by hand
    assert by_kind(docs, "Job")["nats-streams"]


def test_make_manifests_renders_a_region_and_refuses_an_unknown_one():
    text = render_text("chubu")
    assert "namespace: otasuke-chubu" in text
    import sys

    bad = subprocess.run([sys.executable, str(ROOT / "infra" / "render.py"), "atlantis"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown region 'atlantis'" in bad.stderr and "chubu" in bad.stderr


def test_overlay_files_exist_for_every_partner():
    for region in PARTNER_REGIONS:
        folder = ROOT / "infra" / "k8s" / "overlays" / region
        assert {p.name for p in folder.iterdir()} >= {"kustomization.yaml", "namespace.yaml", "leafnodes.conf"}
    assert Path(ROOT / "infra" / "k8s" / "national" / "kustomization.yaml").exists()
