"""Shared models as Ray Serve deployments on a local Ray: the encoder batches requests from many
streams; a VLM answers from contexts the streams' workers build. Tiny random-weight models, no download.

Needs ``onlook[cluster]`` (Ray Serve); skipped without it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)
serve = pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install 'onlook[cluster]')",
                            exc_type=ImportError)

from media import scene_frames, start_local_ray, write_clip

from onlook.cluster import RayExecutor, StreamSpec
from onlook.cluster.models import ServeAnswerer, ServeEncoder, deploy_encoder, deploy_vlm
from onlook.config import Settings
from onlook.errors import ConfigError
from onlook.perception.encoder import OnnxClipEncoder

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(300)]


def test_outside_a_ray_cluster_is_one_line():
    if ray.is_initialized():
        pytest.skip("Ray is initialised in this process")
    with pytest.raises(ConfigError, match="runs on a Ray cluster"):
        ServeAnswerer()
    with pytest.raises(ConfigError, match="runs on a Ray cluster"):
        ServeEncoder()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    start_local_ray(num_cpus=4, namespace="onlook-models")
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from perception.test_encoder import _build_encoder_dir

    return _build_encoder_dir(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="module")
def shared_encoder(local_ray, encoder_dir: Path) -> ServeEncoder:
    deploy_encoder(str(encoder_dir), num_cpus=0.5, replicas=1, max_replicas=2)  # autoscaling between 1 and 2
    return ServeEncoder()


def test_encoder_deployment_matches_the_local_encoder(shared_encoder, encoder_dir):
    local = OnnxClipEncoder.load(encoder_dir)
    assert (shared_encoder.name, shared_encoder.dim) == (local.name, local.dim)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (60, 80, 3), np.uint8) for _ in range(3)]
    np.testing.assert_allclose(shared_encoder.encode_images(images), local.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(shared_encoder.encode_texts(["a person", "a red car"]),
                               local.encode_texts(["a person", "a red car"]), atol=1e-5)
    assert shared_encoder.encode_images([]).shape == (0, local.dim)


def test_requests_from_many_callers_are_batched(shared_encoder):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (60, 80, 3), np.uint8)
    before = shared_encoder.handle.info.remote().result()
    threads = [threading.Thread(target=shared_encoder.encode_images, args=([image] * 4,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    after = shared_encoder.handle.info.remote().result()
    assert after["items"] - before["items"] == 24
    assert after["calls"] - before["calls"] < 24 and after["max_batch"] > 1  # one model call served several


def test_streams_use_the_shared_encoder(shared_encoder, tmp_path):
    clip = write_clip(tmp_path / "c.mp4", scene_frames(6, fps=10, cut_at=3.0), fps=10)
    ex = RayExecutor(num_cpus=0.5, call_timeout_s=60)
    before = shared_encoder.handle.info.remote().result()["items"]
    settings = {"fps": 2, "realtime": False, "detect_faces": False, "detect_text": False,
                "encoder_deployment": "onlook-encoder"}
    try:
        for sid in ("a", "b"):
            ex.open(StreamSpec(sid, str(clip), Settings(store=tmp_path / sid, **settings)))
        for sid in ("a", "b"):
            end = time.monotonic() + 60
            while ex.status(sid)["state"] == "running" and time.monotonic() < end:
                time.sleep(0.2)
            assert ex.status(sid)["state"] == "ended"
            hits = ex.search(sid, "a scene")  # text embedded by the deployment, matched against stored frames
            assert hits
    finally:
        ex.shutdown()
    assert shared_encoder.handle.info.remote().result()["items"] > before  # both streams' frames went to it


def test_replica_options():
    from onlook.cluster.models import _replicas

    assert _replicas(2, None) == {"num_replicas": 2}
    auto = _replicas(1, 4)["autoscaling_config"]
    assert (auto["min_replicas"], auto["max_replicas"]) == (1, 4)
    with pytest.raises(ConfigError, match="max_replicas"):
        _replicas(3, 2)


def test_missing_deployment_is_one_line(local_ray):
    with pytest.raises(ConfigError, match="no encoder deployment 'nope'"):
        ServeEncoder("nope", timeout_s=5)


def test_vlm_deployment_answers_from_the_workers_context(local_ray, tmp_path):
    pytest.importorskip("torch", reason="the [vlm] extra (torch) is not installed")
    pytest.importorskip("transformers", reason="the [vlm] extra (transformers) is not installed")
    from answer import conftest as scenario
    from answer import test_transformers_vlm as tiny

    # The factory runs in the replica, which cannot import the test package: ship it by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[tiny.__name__])
    try:
        deploy_vlm(factory=tiny.tiny_qwen, num_cpus=0.5, max_new_tokens=8)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[tiny.__name__])
    from onlook.answer.context import ContextBudget
    from onlook.memory import Memory, Store
    from onlook.query.search import MemoryView

    store = Store(tmp_path / "store")
    mem = Memory(store, "cam", recent_window=16)
    for a in scenario.analyses():
        mem.add(a)
    view = MemoryView(store, live=mem, stream_id="cam")
    vlm = ServeAnswerer(budget=ContextBudget(images=3, recent=1, image_side=56))
    ans = vlm.answer("who came in, and when?", view)
    assert ans.evidence and len(ans.evidence) <= 3  # the context was built here, within the budget
    assert ans.at == view.now() and ans.question == "who came in, and when?"  # as of now, through the deployment
    assert vlm.handle.info.remote().result()["answered"] == 1
    store.close()
