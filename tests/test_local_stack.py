"""`make run` as a user runs it: the whole stack up, every service ready, a clean stop, data kept."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from otasuke.platform.embedded import free_port

SERVICES = ["helpdesk_bot", "diagnosis", "telemetry", "training", "insurance"]


def _get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return None, None


def _start(data_dir: Path, ports: dict[str, int]):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTASUKE_")}
    env["OTASUKE_DATA_DIR"] = str(data_dir)
    for name, port in ports.items():
        env[f"OTASUKE_{name.upper()}_PORT"] = str(port)
    # The help desk's Rasa server and action server, on free ports too.
    env["OTASUKE_RASA_PORT"] = str(free_port())
    env["OTASUKE_RASA_ACTIONS_PORT"] = str(free_port())
    return subprocess.Popen([sys.executable, "-c", "from otasuke.platform.cli import main; main()", "run"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_ready(ports, timeout=240):
    deadline = time.monotonic() + timeout
    pending = dict(ports)
    while pending and time.monotonic() < deadline:
        for name, port in list(pending.items()):
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            if status == 200 and body["ready"]:
                del pending[name]
        time.sleep(0.5)
    return pending


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out


def _leftovers(data_dir: Path) -> list[str]:
    """Processes still running that belong to this stack (by data dir or port in the command line)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(data_dir) in cmd or ("otasuke.platform.serve" in cmd and p.ppid() == 1):
            found.append(cmd)
    return found


def test_run_starts_everything_and_stops_cleanly_keeping_the_data(tmp_path):
    data_dir = tmp_path / "otasuke-data"
    ports = {name: free_port() for name in SERVICES}
    proc = _start(data_dir, ports)
    try:
        not_ready = _wait_ready(ports)
        assert not not_ready, f"not ready: {not_ready}; log: {(data_dir / 'helpdesk_bot.log').read_text()[-2000:]}"
        token = (data_dir / "operator.token").read_text().strip()
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"company_id": "gifu-seiki", "name": "岐阜精機", "industry": "manufacturing",
                           "employees": 30, "prefecture": "岐阜県"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{ports['helpdesk_bot']}/api/v1/companies", data=body,
                                     headers=auth, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    for name, port in ports.items():
        assert f"http://127.0.0.1:{port}" in out, f"{name} address not printed"
    assert "operator token" in out
    assert _leftovers(data_dir) == []

    # Restart: the company registered before is still there (events kept in .otasuke/).
    proc = _start(data_dir, ports)
    try:
        assert not _wait_ready(ports)
        status, companies = _get(f"http://127.0.0.1:{ports['helpdesk_bot']}/api/v1/companies", auth)
        assert status == 200 and [c["company_id"] for c in companies] == ["gifu-seiki"]
    finally:
        _stop(proc)
    assert _leftovers(data_dir) == []
