"""Two Ray nodes on one machine: streams placed on both; the second node stops and its stream
resumes on the first, from the shared store path, with the gap recorded.

Each node is a ``ray start ... --block`` process of its own (its own raylet, resources and
worker processes), the way a second machine joins with ``ray start --address``. Needs
``onlook[cluster]``; skipped without Ray. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)

from media import free_port
from onlook.cluster import RayExecutor, StreamSpec
from onlook.config import Settings

pytestmark = [pytest.mark.ray, pytest.mark.footage, pytest.mark.slow, pytest.mark.timeout(300)]


def wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# A throwaway cluster on loopback: no token (the driver here would otherwise need the head's).
_NO_AUTH = {"RAY_AUTH_MODE": "disabled"}


def _ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else (shutil.which("ray") or "ray")


def _start_node(args: list[str], tmp: Path, name: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RAY_health_check_period_ms="500", RAY_health_check_failure_threshold="4",
               RAY_health_check_initial_delay_ms="0", RAY_USAGE_STATS_ENABLED="0", **_NO_AUTH)
    log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([_ray_cli(), "start", "--block", "--disable-usage-stats", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop_node(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if ray.is_initialized():
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    for k, v in _NO_AUTH.items():
        mp.setenv(k, v)
    tmp = tmp_path_factory.mktemp("ray")
    port = free_port()
    head = _start_node(["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                        "--node-ip-address=127.0.0.1"], tmp, "head")
    nodes = [head]
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:  # the head takes a few seconds to accept drivers
            try:
                ray.init(address=address, namespace="onlook-two-nodes", log_to_driver=False,
                         _node_ip_address="127.0.0.1")
                break
            except (ConnectionError, RuntimeError):
                if time.monotonic() > deadline or head.poll() is not None:
                    raise AssertionError(f"the head node did not start: {(tmp / 'head.log').read_text()[-2000:]}")
                time.sleep(1)
        second = _start_node([f"--address={address}", "--num-cpus=2", "--node-ip-address=127.0.0.1",
                              '--resources={"second_node": 1}'], tmp, "second")
        nodes.append(second)
        alive = wait_for(lambda: (a := [n for n in ray.nodes() if n["Alive"]]) and len(a) == 2 and a, 90,
                         "the second node to join")
        ids = {("second" if "second_node" in n["Resources"] else "head"): n["NodeID"] for n in alive}
        yield {"address": address, "head": ids["head"], "second": ids["second"], "second_proc": second}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for p in reversed(nodes):
            _stop_node(p)
        mp.undo()
        # `ray start --head` leaves its address for later `ray.init()` calls to join; it is gone now.
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def _node_of(executor: RayExecutor, sid: str) -> str | None:
    try:
        return executor.status(sid)["worker"]["node_id"]
    except Exception:  # restarting
        return None


def test_streams_on_both_nodes_and_resume_after_a_node_stops(cluster, tmp_path):
    from onlook.footage import find_clip

    clip = find_clip("vtest.avi")
    if clip is None:
        pytest.skip("vtest.avi not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc)")
    shared = tmp_path / "shared-stores"  # one path both nodes see (the same disk here; NFS etc. across machines)
    ex = RayExecutor(cluster["address"], num_cpus=0.5, call_timeout_s=30)
    settings = {"fps": 2, "realtime": True, "detect_faces": False, "detect_text": False}
    try:
        for sid, node in (("on-head", cluster["head"]), ("on-second", cluster["second"])):
            ex.open(StreamSpec(sid, str(clip), Settings(store=shared / sid, **settings), until_s=40, node=node))
        assert _node_of(ex, "on-head") == cluster["head"]
        assert _node_of(ex, "on-second") == cluster["second"]
        assert {n["node_id"] for n in ex.nodes() if n["alive"]} == {cluster["head"], cluster["second"]}

        wait_for(lambda: ex.status("on-second")["t"] >= 6, 60, "the stream on the second node to reach 6 s")
        q = "how many people entered so far?"
        before = ex.ask("on-second", q, at=5.0)
        _stop_node(cluster["second_proc"])  # the node goes away, with its actor

        # Ray notices the node is gone and restarts the actor on the head (soft affinity).
        wait_for(lambda: _node_of(ex, "on-second") == cluster["head"], 120, "the stream to resume on the head")
        st = ex.status("on-second")
        assert st["restarts"] == 1 and st["state"] == "running"
        assert ex.ask("on-second", q, at=5.0).text == before.text  # its memory came along (shared store)
        gaps = [g for g in ex.gaps("on-second") if g.reason == "restart"]
        assert len(gaps) == 1 and gaps[0].start >= 5.5
        t_resumed = st["t"]
        wait_for(lambda: ex.status("on-second")["t"] > t_resumed + 1, 30, "ingest to carry on")
        # The stream that was on the head never noticed.
        assert ex.status("on-head")["restarts"] == 0 and _node_of(ex, "on-head") == cluster["head"]
        assert [n["alive"] for n in ex.nodes() if n["node_id"] == cluster["second"]] == [False]
    finally:
        ex.shutdown()
