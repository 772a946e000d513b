"""A separately installed package benchmarks its own model: the example plugin in
``tests/plugin_pkg`` (a generator, an embedder and a config folder, registered through entry
points) is installed beside a non-editable spf-bench in a fresh venv and run as
``spf-bench run model=sunset embedder=hue_hist`` from a directory outside the checkout
(docs/extending.md, "Your own package").

The fresh venv is the one of tests/test_install.py (third-party packages borrowed through a .pth
line, spf_bench from the wheel alone).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_install import installed  # noqa: F401 - the fresh-venv fixture

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugin_pkg"

pytestmark = pytest.mark.slow

#: The commands of docs/extending.md, "Your own package", as this module runs them (the install
#: is the fixture's, with --no-deps into a venv that borrows the third-party packages; the runs
#: get ``QUIET`` appended). tests/test_extending_docs.py checks the page lists exactly these.
DOC_COMMANDS = (
    "pip install tests/plugin_pkg",
    "spf-bench run model=sunset embedder=hue_hist",
    "spf-bench run experiment=sunset_resample pacing=gentle_ease_in",
)
QUIET = ["logger=none", "progress=false"]


@pytest.fixture(scope="module")
def plugin_venv(installed, tmp_path_factory):  # noqa: F811 - the imported fixture
    venv, purelib = installed
    # A venv that borrows its own packages through a .pth (a checkout's venv beside another's)
    # passes them on: every site-packages folder of this process, after the wheel's own.
    borrowed = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (purelib / "_spf_test_deps_more.pth").write_text("".join(f"{p}\n" for p in borrowed))
    src = tmp_path_factory.mktemp("plugin") / "plugin_pkg"
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv, purelib


def _run(
    venv: Path, args: list[str], cwd: Path, config_path: Path | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "MPLBACKEND": "Agg"}
    env.pop("SPF_BENCH_CONFIG_PATH", None)
    if config_path is not None:
        env["SPF_BENCH_CONFIG_PATH"] = str(config_path)
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_plugin_model_and_embedder_run_from_outside_the_checkout(plugin_venv, tmp_path):
    venv, purelib = plugin_venv
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = _run(venv, [*shlex.split(DOC_COMMANDS[1]), *QUIET, "eval_embedders=[pixel]"], work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (work / "runs").iterdir() if not p.name.startswith(".")]
    assert run_dir.name.startswith("sunset-warped-hue_hist-linear-")
    records = pd.read_parquet(run_dir / "records.parquet")
    # suite_size 2 from the plugin's model file; baseline + 3 ReTime iterations each.
    assert sorted(records["item_id"].unique()) == ["sunset-000", "sunset-001"]
    assert sorted(records["iteration"].unique()) == [0, 1, 2, 3]
    assert (records["status"] == "ok").all() and set(records["embedder"]) == {"hue_hist"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_failed"] == 0 and summary["model"] == "sunset"
    # The sigmoid sky is unevenly paced; re-rendering it at the inverted SPF evens it out.
    assert summary["linearity_gain_mean"] > 0.02
    assert (run_dir / "report.html").is_file()
    # The leaderboard of the installed package reads the run.
    board = work / "leaderboard.csv"
    proc = _run(
        venv,
        ["spf-bench", "leaderboard", str(run_dir), "--out", str(board)],
        work,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(board)
    assert list(rows["model"]) == ["sunset"] and list(rows["embedder"]) == ["hue_hist"]
    assert not list((purelib / "spf_bench").rglob("runs"))
    # What ran is the wheel and the installed plugin, not the checkout.
    code = "import spf_bench.bench.config as c, spf_example_plugin as p\n"
    code += "print(c.__file__, p.__file__)"
    where = _run(venv, ["python", "-c", code], work)
    assert where.returncode == 0, where.stderr[-2000:]
    assert all(Path(f).is_relative_to(purelib) for f in where.stdout.split()), where.stdout


def test_plugin_experiment_retimes_the_black_box_post_hoc(plugin_venv, tmp_path):
    venv, _ = plugin_venv
    proc = _run(
        venv,
        [*shlex.split(DOC_COMMANDS[2]), *QUIET, "eval_embedders=[]", f"run_dir={tmp_path / 'run'}"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["retime"] == "resample" and summary["pacing"] == "exp_up"
    assert summary["n_failed"] == 0 and summary["n_items"] == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.steepnes=3", "Key 'steepnes' not in 'SunsetModelConfig'"),
        ("model.steepness=sharp", "Value 'sharp' of type 'str' could not be converted to Float"),
        ("embedder=hue_hst", "Could not find 'embedder/hue_hst'"),
    ],
)
def test_plugin_config_is_typed_at_compose_time(plugin_venv, tmp_path, override, message):
    venv, _ = plugin_venv
    proc = _run(venv, ["spf-bench", "run", "model=sunset", "embedder=hue_hist", override], tmp_path)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "runs").exists() or not [
        p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")
    ]


def test_a_misspelt_key_in_a_users_model_file_fails_at_compose_time(plugin_venv, tmp_path):
    venv, _ = plugin_venv
    conf = tmp_path / "my_conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "my_sunset.yaml").write_text(
        "defaults:\n  - schema_sunset\n  - _self_\n\nname: my_sunset\nsteepnes: 3.0\n"
    )
    proc = _run(venv, ["spf-bench", "run", "model=my_sunset", "embedder=hue_hist"], tmp_path, conf)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Key 'steepnes' not in 'SunsetModelConfig'" in proc.stderr
    assert not (tmp_path / "runs").exists()
