"""spf-bench main entry point (Hydra).

    python bench/run.py                                   # morph + warped retime, CPU demo
    python bench/run.py model=footage retime=none embedder=pixel
    python bench/run.py model=wan22 retime=warped n_videos=128      # on a GPU node
    python bench/run.py -m embedder=pixel,efficientnet_lite0        # a sweep

Composes ``conf/config.yaml``, turns it into a plain :class:`bench.pipeline.BenchSettings`
and calls :func:`bench.pipeline.run_benchmark`. See ``conf/`` for every option.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` from a checkout without `pip install -e`
    sys.path.insert(0, str(ROOT))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from bench.pipeline import (  # noqa: E402
    BenchSettings,
    PacingSettings,
    RetimeSettings,
    SPFSettings,
    run_benchmark,
    split_model_config,
)
from bench.sweep import shard_count, sweep_job_settings  # noqa: E402

log = logging.getLogger("spf_bench")

#: Keys that do not change results, left out of the config hash (so n_videos=8 reuses the
#: items of an n_videos=4 run, and logging or plotting choices never invalidate work).
HASH_EXCLUDE = (
    "logger",
    "run_dir",
    "n_videos",
    "shard",
    "save_videos",
    "plots",
    "progress",
    "hydra",
    "vbench",
)


def config_hash(cfg: dict[str, Any]) -> str:
    """First 10 hex digits of the SHA-256 of the result-relevant config, keys sorted."""
    kept = {k: v for k, v in cfg.items() if k not in HASH_EXCLUDE}
    blob = json.dumps(kept, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def settings_from_config(cfg: DictConfig) -> BenchSettings:
    """Resolve the Hydra config into plain :class:`BenchSettings` (validated).

    Raises:
        ValueError: on a missing or invalid key, naming it.
    """
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(resolved, dict)
    resolved.pop("hydra", None)
    name, target, model = split_model_config(resolved["model"])
    emb = dict(resolved["embedder"])
    emb_name = emb.pop("name")
    retime, pacing = dict(resolved["retime"]), dict(resolved["pacing"])
    digest = config_hash(resolved)
    run_dir = resolved.get("run_dir") or (
        ROOT / "runs" / f"{name}-{retime['name']}-{emb_name}-{pacing['name']}-{digest}"
    )
    settings = BenchSettings(
        model_name=name,
        model_target=target,
        model_kwargs=model,
        embedder_name=emb_name,
        embedder_kwargs=emb,
        run_dir=Path(run_dir),
        retime=RetimeSettings(**retime),
        pacing=PacingSettings(**pacing),
        spf=SPFSettings(**resolved["spf"]),
        n_videos=int(resolved["n_videos"]),
        seed=int(resolved["seed"]),
        shard_index=int(resolved["shard"]["index"]),
        shard_count=shard_count(resolved["shard"], int(resolved["n_videos"])),
        config_hash=digest,
        save_videos=bool(resolved["save_videos"]),
        plots=bool(resolved["plots"]),
        progress=bool(resolved["progress"]),
        logger=dict(resolved["logger"]),
        vbench=dict(resolved.get("vbench") or {}),
        config=resolved,
    )
    settings.check()
    return settings


def print_summary(summary: dict[str, Any]) -> None:
    """One line per iteration: n videos and mean ± std Linearity Score."""
    print(
        f"\nspf-bench: {summary['model']} / retime={summary['retime']} / "
        f"embedder={summary['embedder']} / pacing={summary['pacing']}"
    )
    for it, st in summary["per_iteration"].items():
        print(
            f"  iteration {it}: n={st['n']:>3}  Linearity {st['linearity_mean']:.4f} "
            f"± {st['linearity_std']:.4f}"
        )
    if len(summary["per_iteration"]) > 1:
        print(
            f"  mean Linearity gain (last iteration - baseline): "
            f"{summary['linearity_gain_mean']:+.4f}"
        )
    print(f"  failed records: {summary['n_failed']}   run directory: {summary['run_dir']}")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    """Compose the config, run the benchmark, print the summary, return it (for sweeps)."""
    summary = run_benchmark(sweep_job_settings(settings_from_config(cfg)))
    print_summary(summary)
    return summary


if __name__ == "__main__":
    main()
