"""``onlook serve`` as a user runs it: a subprocess on 127.0.0.1, stopped with Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest
from media import free_port

pytestmark = [pytest.mark.timeout(60)]


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "onlook.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Until ``url``/healthz answers 200; fails if the server exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "onlook serve did not come up"
        time.sleep(0.2)


def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path, media_dir):
    port = free_port()
    proc = _serve("--port", str(port), "--store-root", str(tmp_path / "root"), "--allow-files", str(media_dir),
                  "--api-key", "k", "--log-level", "warning")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, 40)
        assert httpx.get(f"{url}/streams", timeout=5).status_code == 401
        r = httpx.get(f"{url}/streams", headers={"Authorization": "Bearer k"}, timeout=5)
        assert r.status_code == 200 and r.json() == {"streams": []}
        # A second server on the same store root is refused with one line.
        port2 = free_port()
        other = _serve("--port", str(port2), "--store-root", str(tmp_path / "root"))
        out, err = other.communicate(timeout=30)
        assert other.returncode == 1 and "another onlook server" in err and "Traceback" not in err
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_serve_cluster_local_runs_streams_as_actors(tmp_path, media_dir):
    """``onlook serve --cluster local``: its own Ray; a stream runs in an actor; Ctrl-C stops both cleanly."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)
    port = free_port()
    proc = _serve("--port", str(port), "--store-root", str(tmp_path / "root"), "--allow-files", str(media_dir),
                  "--cluster", "local", "--cluster-cpus", "0.5", "--log-level", "warning")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, 120)
        r = httpx.post(f"{url}/streams", json={"id": "cut", "source": str(media_dir / "cut.mp4")}, timeout=90)
        assert r.status_code == 201, r.text
        st = r.json()
        assert st["worker"]["pid"] != proc.pid and st["worker"]["node_id"] not in (None, "local")
        cluster = httpx.get(f"{url}/cluster", timeout=30).json()
        assert cluster["executor"] == "ray" and [s["id"] for s in cluster["streams"]] == ["cut"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("args", [["serve", "--cluster", "bogus"], ["cluster", "deploy", "--address", "bogus",
                                                                    "--vlm", "m"]])
def test_bad_ray_address_is_one_line(args, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)
    if args[0] == "serve":
        args = [*args, "--store-root", str(tmp_path / "root"), "--port", str(free_port())]
    proc = subprocess.run([sys.executable, "-m", "onlook.cli", *args], capture_output=True, text=True, timeout=100)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cannot join the Ray cluster 'bogus'" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_allows_the_hosts_it_is_told_and_answers_only_to_its_names(tmp_path, monkeypatch):
    bad = subprocess.run([sys.executable, "-m", "onlook.cli", "serve", "--allow-hosts", "not a host!",
                          "--store-root", str(tmp_path / "bad"), "--port", str(free_port())],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--allow-hosts 'not a host!'" in bad.stderr and "Traceback" not in bad.stderr
    monkeypatch.setenv("ONLOOK_RECONNECT_ATTEMPTS", "0")  # the loopback source below fails at once
    port = free_port()
    proc = _serve("--port", str(port), "--store-root", str(tmp_path / "root"), "--allow-hosts", "127.0.0.1",
                  "--server-name", "onlook.lan", "--log-level", "warning")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, 40)
        r = httpx.post(f"{url}/streams", json={"id": "lo", "source": f"http://127.0.0.1:{free_port()}/x.ts"},
                       timeout=10)
        assert r.status_code == 201, r.text  # allowed: --allow-hosts 127.0.0.1
        for source in ["http://127.0.0.2/x.ts", "rtsp://10.0.0.1/cam", f"tcp://127.0.0.1:{free_port()}?listen=1"]:
            r = httpx.post(f"{url}/streams", json={"source": source}, timeout=10)
            assert r.status_code == 403 and r.json()["error"]["type"] == "TargetNotAllowed", (source, r.text)
        assert httpx.get(f"{url}/streams", headers={"Host": f"onlook.lan:{port}"}, timeout=5).status_code == 200
        assert httpx.get(f"{url}/streams", headers={"Host": f"evil.example:{port}"}, timeout=5).status_code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
