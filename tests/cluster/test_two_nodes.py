"""Two Ray nodes on one machine: streams placed on both; the second node stops and its stream
resumes on the first, from the shared store path, with the gap recorded.

Each node is a raylet process of its own with its own resources and worker processes (Ray's
multi-node harness, ``ray.cluster_utils.Cluster``), the way a second machine joins with
``ray start --address``. Needs ``onlook[cluster]``; skipped without Ray. Every wait is bounded.

The scenario runs in a fresh Python process (a child pytest of this module): a process whose
driver has been connected to another Ray cluster before (the other Ray tests of this run) cannot
reliably start actors on a second one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)

from media import wait_for

from onlook.cluster import RayExecutor, StreamSpec
from onlook.config import Settings

pytestmark = [pytest.mark.ray, pytest.mark.footage, pytest.mark.slow, pytest.mark.timeout(300)]


# A throwaway cluster on loopback: no token (the driver here would otherwise need the head's).
_NO_AUTH = {"RAY_AUTH_MODE": "disabled"}
# Notice a lost node within seconds (the default takes about half a minute).
_FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
                "RAY_health_check_initial_delay_ms": "0"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A head node (1 CPU) and a second node (2 CPUs), each its own raylet process, via Ray's own
    multi-node test harness (what ``ray start --head`` / ``ray start --address`` do)."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    for k, v in {**_NO_AUTH, **_FAST_HEALTH}.items():
        mp.setenv(k, v)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        ray.init(address=c.address, namespace="onlook-two-nodes", log_to_driver=False)
        second = c.add_node(num_cpus=2, resources={"second_node": 1})
        c.wait_for_nodes(90)
        alive = [n for n in ray.nodes() if n["Alive"]]
        ids = {("second" if "second_node" in n["Resources"] else "head"): n["NodeID"] for n in alive}
        yield {"address": c.address, "head": ids["head"], "second": ids["second"],
               "stop_second": lambda: c.remove_node(second, allow_graceful=True)}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()
        mp.undo()


def _node_of(executor: RayExecutor, sid: str) -> str | None:
    try:
        return executor.status(sid)["worker"]["node_id"]
    except Exception:  # restarting
        return None


_CHILD = "ONLOOK_TWO_NODES_CHILD"


def test_two_nodes_in_a_fresh_process():
    if os.environ.get(_CHILD):
        pytest.skip("this is the child run")
    here = Path(__file__)
    root = here.parents[2]
    # Without what an earlier ray.init() of this run left in the environment (its auth mode, its debugger).
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "PYTHONBREAKPOINT", "RAY_ADDRESS")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(here),
                           "-k", "resume_after_a_node_stops"], cwd=root, env={**env, _CHILD: "1"},
                          capture_output=True, text=True, timeout=280)
    tail = (proc.stdout + proc.stderr)[-4000:]
    if "1 skipped" in proc.stdout and "passed" not in proc.stdout:
        pytest.skip(tail.strip().splitlines()[-1])
    assert proc.returncode == 0 and "1 passed" in proc.stdout, tail


@pytest.mark.skipif(not os.environ.get(_CHILD), reason="runs in a fresh process (test_two_nodes_in_a_fresh_process)")
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
        cluster["stop_second"]()  # the node goes away (its raylet and workers stop), with its actor

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
