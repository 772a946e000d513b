"""docs/extending.md runs as written: its files are written where it says, each of its commands
runs in bash from a working folder outside the checkout (the ``spf-bench`` of this venv on
PATH), and the runs hold what the page says they hold. The commands of its "Your own package"
section are run by tests/test_plugin_pkg.py (from a fresh venv); this module checks the page
lists exactly those.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_plugin_pkg import DOC_COMMANDS as PLUGIN_COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"

pytestmark = pytest.mark.slow

_FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)


def _doc_files() -> dict[str, str]:
    return dict(_FILE.findall(DOC.read_text()))


def _doc_commands() -> list[str]:
    return [
        line.strip()
        for lang, body in _FENCE.findall(DOC.read_text())
        if lang == "bash"
        for line in body.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _run_dir(work: Path, prefix: str) -> Path:
    (run,) = [p for p in (work / "runs").iterdir() if p.name.startswith(prefix)]
    return run


@pytest.fixture(scope="module")
def ran(tmp_path_factory, bundled):
    """Every non-plugin command of the page, run in order in one working folder."""
    work = tmp_path_factory.mktemp("extending")
    for rel, text in _doc_files().items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    shutil.copy(bundled["bikes"], work / "videos" / "bikes.mp4")
    shutil.copy(bundled["carphone_pristine"], work / "videos" / "carphone.mp4")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MPLBACKEND": "Agg",
    }
    env.pop("SPF_BENCH_CONFIG_PATH", None)
    out = {}
    for cmd in _doc_commands():
        if cmd in PLUGIN_COMMANDS:
            continue
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"{cmd}\n{proc.stderr[-3000:]}"
        out[cmd] = proc
    return work, out


def test_the_page_lists_its_files_and_commands_and_the_readme_links_it():
    assert set(_doc_files()) == {
        "videos/manifest.csv",
        "my_conf/model/my_clips.yaml",
        "my_conf/experiment/my_clips_resample.yaml",
    }
    commands = _doc_commands()
    assert len(commands) == 9 and len(set(commands)) == 9
    assert [c for c in commands if c in PLUGIN_COMMANDS] == list(PLUGIN_COMMANDS)
    assert "(docs/extending.md)" in (ROOT / "README.md").read_text()


def test_manifest_footage_is_measured_with_its_item_ids_and_prompts(ran):
    work, _ = ran
    run = _run_dir(work, "footage-none-pixel-linear-")
    df = pd.read_parquet(run / "records.parquet").set_index("item_id").sort_index()
    assert list(df.index) == ["bikes-cuts", "carphone"] and (df.status == "ok").all()
    meta = {k: json.loads(v) if isinstance(v, str) else v for k, v in df.metadata.items()}
    assert meta["carphone"]["prompt"].startswith("a man talks on a car phone")
    assert df.loc["bikes-cuts", "n_frames"] == 48
    # bikes.mp4 cuts at frame 30: the largest step of S is there.
    assert abs(int(df.loc["bikes-cuts", "max_jump_frame"]) - 30) <= 2
    identity = json.loads((run / "identity.json").read_text())
    assert any(k.endswith("videos/manifest.csv") for k in identity["inputs"])
    assert (run / "report.html").is_file()


@pytest.mark.parametrize(("mode", "iterations"), [("resample", 3), ("segmented", 1)])
def test_black_box_footage_is_retimed_post_hoc(ran, mode, iterations):
    work, _ = ran
    df = pd.read_parquet(_run_dir(work, f"footage-{mode}-pixel-linear-") / "records.parquet")
    assert sorted(df.iteration.unique()) == list(range(iterations + 1))
    assert (df.status == "ok").all()
    assert set(df.item_id) == {"bikes-cuts", "carphone"}


def test_tiny_hunyuan_video_runs_three_retime_iterations(ran):
    work, _ = ran
    df = pd.read_parquet(_run_dir(work, "hunyuan_video_tiny-warped-pixel-") / "records.parquet")
    assert sorted(df.iteration.unique()) == [0, 1, 2, 3] and (df.status == "ok").all()


def test_outside_config_folder_by_variable_and_by_searchpath(ran):
    work, _ = ran
    resampled = _run_dir(work, "my_clips-resample-pixel-ease_in_out-")
    summary = json.loads((resampled / "summary.json").read_text())
    assert summary["model"] == "my_clips" and summary["n_items"] == 2
    df = pd.read_parquet(_run_dir(work, "my_clips-none-pixel-linear-") / "records.parquet")
    assert len(df) == 2 and (df.status == "ok").all()


def test_a_misspelt_key_in_an_outside_model_file_fails_at_compose_time(tmp_path):
    bad = tmp_path / "conf" / "model"
    bad.mkdir(parents=True)
    text = _doc_files()["my_conf/model/my_clips.yaml"].replace("max_frames:", "max_frame:")
    (bad / "my_clips.yaml").write_text(text)
    env = {**os.environ, "SPF_BENCH_CONFIG_PATH": str(tmp_path / "conf")}
    proc = subprocess.run(
        [sys.executable, "-m", "spf_bench.bench.cli", "run", "model=my_clips"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "Key 'max_frame' not in 'FootageModelConfig'" in proc.stderr
    assert not (tmp_path / "runs").exists()
