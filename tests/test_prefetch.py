"""``spf-bench prefetch``: the plan, the offline failure, the dry run, an atomic local download."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from spf_bench.metrics import prefetch as pf
from spf_bench.metrics.embedders import open_clip_backend as oc
from spf_bench.metrics.embedders import transformers_backend as tb
from spf_bench.metrics.vbench.registry import DIMENSIONS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def caches(tmp_path, monkeypatch):
    hf, vc, th = tmp_path / "hf", tmp_path / "vbench", tmp_path / "torch"
    monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(vc))
    monkeypatch.setenv("TORCH_HOME", str(th))
    return hf, vc, th


def test_plan_names_repo_ids_files_and_destinations(caches):
    hf, vc, th = caches
    dims = ["subject_consistency", "background_consistency", "dynamic_degree", "imaging_quality"]
    items = pf.plan_prefetch(["siglip", "dinov2", "openclip", "efficientnet_lite0", "pixel"], dims)
    by_name = {i.name: i for i in items}
    # Hub embedders: repo ids and files from the embedder modules; packaged ones need nothing.
    assert by_name["siglip"].source == oc.SIGLIP_HUB_ID
    assert by_name["siglip"].files == ("open_clip_config.json",)
    assert by_name["siglip"].any_of == oc.OPEN_CLIP_WEIGHT_FILES
    assert by_name["openclip"].source == oc.OPENCLIP_HUB_ID
    assert by_name["dinov2"].source == tb.DINOV2_HUB_ID
    assert by_name["dinov2"].files == ("config.json",)
    assert by_name["dinov2"].any_of == tb.HF_WEIGHT_FILES
    for name, repo in [("siglip", oc.SIGLIP_HUB_ID), ("dinov2", tb.DINOV2_HUB_ID)]:
        assert by_name[name].kind == "hf"
        assert by_name[name].cache_dir == hf
        assert by_name[name].destination == hf / f"models--{repo.replace('/', '--')}"
    assert not any(i.name in ("efficientnet_lite0", "pixel") for i in items)

    # VBench: every weight file of every dimension has an item at its registry path.
    dests = {i.destination for i in items}
    for dim in dims:
        for wf in DIMENSIONS[dim].weights:
            dest = (vc if wf.root == "cache" else th) / wf.path
            if wf.path.startswith("dino_model/facebookresearch_dino_main/"):
                git = [i for i in items if i.kind == "git"]
                assert len(git) == 1 and git[0].destination == dest.parent
                assert git[0].command.startswith("git clone") and str(dest.parent) in git[0].command
            else:
                assert dest in dests, dest
                (item,) = [i for i in items if i.destination == dest]
                assert item.source == wf.source.split(" ")[0]
    raft = next(i for i in items if i.kind == "zip")
    assert raft.destination == vc / "raft_model/models/raft-things.pth"
    assert raft.extract_to == vc / "raft_model"
    assert len(dests) == len(items)  # each destination once
    # temporal_flickering needs nothing; an unknown name is an error.
    assert pf.plan_prefetch([], ["temporal_flickering"]) == []
    with pytest.raises(ValueError):
        pf.plan_prefetch(["nope"], [])
    with pytest.raises(ValueError):
        pf.plan_prefetch([], ["nope"])


def _cli(*args, env_extra=None, timeout=60):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "spf_bench.metrics.prefetch", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ALL_ARGS = (
    "--embedder",
    "siglip",
    "dinov2",
    "openclip",
    "--vbench-dims",
    *DIMENSIONS,
)


def test_offline_exits_2_at_once_and_lists_every_item(caches, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    items = pf.plan_prefetch(["siglip", "dinov2", "openclip"], list(DIMENSIONS))
    t0 = time.monotonic()
    with pytest.raises(pf.OfflineError) as err:
        pf.prefetch(items, dry_run=False)
    assert time.monotonic() - t0 < 5
    assert err.value.items == items

    t0 = time.monotonic()
    r = _cli(*ALL_ARGS, env_extra={"HF_HUB_OFFLINE": "1"})
    elapsed = time.monotonic() - t0
    assert r.returncode == 2, r.stderr
    assert elapsed < 5, elapsed
    for item in items:
        assert str(item.destination) in r.stderr
        assert item.source in r.stderr
    assert r.stdout == ""


def test_unreachable_host_fails_fast(caches, monkeypatch):
    """Without HF_HUB_OFFLINE, the connectivity check itself fails at once (a closed port)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    item = pf.Item("dead", "url", caches[1] / "x.bin", f"http://127.0.0.1:{port}/x.bin")
    t0 = time.monotonic()
    with pytest.raises(pf.OfflineError, match="cannot reach"):
        pf.prefetch([item], dry_run=False)
    assert time.monotonic() - t0 < 5
    assert not item.destination.exists()


def test_dry_run_exits_0_without_network(caches):
    r = _cli(*ALL_ARGS, "--dry-run", env_extra={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "planned" in r.stdout and oc.SIGLIP_HUB_ID.replace("/", "--") in r.stdout
    assert "git clone" in r.stdout
    rows = pf.prefetch(pf.plan_prefetch(["dinov2"], ["imaging_quality"]), dry_run=True)
    assert [r.status for r in rows] == ["planned", "planned"]
    assert not caches[1].exists()  # nothing written


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no request lines on stderr
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_local_url_download_lands_atomically(caches, server, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    root, base = server
    payload = os.urandom(300_000)
    (root / "w.pth").write_bytes(payload)
    with zipfile.ZipFile(root / "models.zip", "w") as zf:
        zf.writestr("models/raft-things.pth", b"r" * 1000)
    vc = caches[1]
    dest = vc / "amt_model" / "w.pth"
    copy = caches[2] / "hub" / "checkpoints" / "w.pth"
    raft = vc / "raft_model" / "models" / "raft-things.pth"
    items = [
        pf.Item("test:w", "url", dest, f"{base}/w.pth"),
        pf.Item("test:w copy", "url", copy, f"{base}/w.pth"),  # same URL: copied locally
        pf.Item("test:raft", "zip", raft, f"{base}/models.zip", extract_to=vc / "raft_model"),
        pf.Item("test:missing", "url", vc / "gone.pth", f"{base}/gone.pth"),
    ]
    rows = pf.prefetch(items, dry_run=False)
    assert [r.status for r in rows] == ["fetched", "fetched", "fetched", "failed"]
    assert dest.read_bytes() == payload and copy.read_bytes() == payload
    assert raft.read_bytes() == b"r" * 1000
    assert rows[0].destination == str(dest)
    assert rows[0].size_mb == pytest.approx(len(payload) / 1e6)
    assert "404" in rows[3].detail and not (vc / "gone.pth").exists()
    # No temp file or archive left beside the destinations.
    leftovers = [p.name for p in vc.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    report = pf.format_report(rows)
    assert "test:w" in report and str(dest) in report and "0.3" in report
    assert "FAILED: test:missing" in report

    # A second run finds them present and fetches nothing.
    (root / "w.pth").unlink()
    rows = pf.prefetch(items[:3], dry_run=False)
    assert [r.status for r in rows] == ["present"] * 3


def test_download_is_atomic_on_failure(caches, server, monkeypatch):
    """A download that breaks mid-way leaves no destination and no temp file."""
    root, base = server
    (root / "w.pth").write_bytes(b"x" * 5000)
    dest = caches[1] / "w.pth"

    def boom(src, dst, length=0):
        dst.write(src.read(100))
        raise OSError("connection reset")

    monkeypatch.setattr(pf.shutil, "copyfileobj", boom)
    rows = pf.prefetch([pf.Item("t", "url", dest, f"{base}/w.pth")], dry_run=False)
    assert rows[0].status == "failed" and "connection reset" in rows[0].detail
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_cli_parser_registers_prefetch():
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    pf.add_prefetch_parser(sub)
    args = parser.parse_args(["prefetch", "--embedder", "siglip", "--dry-run"])
    assert args.func is pf._cmd_prefetch and args.embedder == ["siglip"] and args.dry_run
