"""Settings, run identity and sharding: where the composed Hydra config becomes settings.

The schema that types ``conf/`` is :mod:`spf_bench.conf.schema` (a misspelt key, a wrong type
or an unknown choice fails when Hydra composes). :func:`settings_from_config` checks the
cross-field rules and returns :class:`BenchSettings`, all ``bench/pipeline.py`` sees;
:func:`config_hash` is the run identity and :func:`shard_count` / :func:`shard_items` the one
sharding rule.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from spf_bench.conf import CONF_DIR
from spf_bench.conf.schema import (
    MODEL_META_KEYS,
    RESUME_POLICIES,
    RetimeSettings,
    import_target,
    register_configs,
)
from spf_bench.generators.base import file_digest
from spf_bench.metrics.embedders import EMBEDDERS, available_embedders
from spf_bench.metrics.measure import PacingSettings, SPFSettings

__all__ = [
    "HASH_EXCLUDE",
    "RESULTS_VERSION",
    "BenchSettings",
    "compose_model",
    "config_hash",
    "identity_difference",
    "input_digests",
    "resolve_eval_embedders",
    "resolved_config",
    "run_identity",
    "settings_from_config",
    "shard_count",
    "shard_items",
    "shard_size",
    "split_model_config",
]


# -------------------------------------------------------------------------------- settings
@dataclass
class BenchSettings:
    """Everything one benchmark run needs, as plain values (what ``bench/pipeline.py`` sees).

    Attributes:
        model_name, model_target, model_kwargs: the generator's recorded name, ``"module.Class"``
            and constructor keyword arguments.
        embedder_name, embedder_kwargs: :func:`spf_bench.metrics.embedders.build_embedder`'s.
        eval_embedders: held-out embedders that score every iteration's video besides the
            guiding one (resolved: never contains ``embedder_name``).
        run_dir: output directory (created).
        retime, pacing, spf: see their classes.
        n_videos: number of items of the suite; ``seed`` their seed.
        shard_index, shard_count: this run handles items ``i`` with
            ``i % shard_count == shard_index`` (:func:`shard_items`).
        config_hash: run identity hash (:func:`run_identity`), recorded in every row.
        identity: the full :func:`run_identity` (written to ``identity.json``).
        resume: one of :data:`RESUME_POLICIES`.
        save_videos, plots, report, progress: outputs (``report.html``) and progress bars.
        logger: ``{"name": "wandb" | "none", ...}``.
        config: the resolved config, saved to ``config.json`` for provenance.
        out_dir: where this run's tables, ``summary.json``, ``config.json`` and W&B files go;
            ``None`` = ``run_dir`` (a sweep job sets its Hydra job directory).
        vbench: the ``vbench:`` block (:class:`spf_bench.metrics.vbench.VBenchSettings`).
    """

    model_name: str
    model_target: str
    model_kwargs: dict[str, Any]
    embedder_name: str
    embedder_kwargs: dict[str, Any]
    run_dir: Path
    eval_embedders: tuple[str, ...] = ()
    retime: RetimeSettings = field(default_factory=RetimeSettings)
    pacing: PacingSettings = field(default_factory=PacingSettings)
    spf: SPFSettings = field(default_factory=SPFSettings)
    n_videos: int = 4
    seed: int = 0
    shard_index: int = 0
    shard_count: int = 1
    config_hash: str = ""
    identity: dict[str, Any] = field(default_factory=dict)
    resume: str = "auto"
    save_videos: bool = True
    plots: bool = True
    report: bool = True
    progress: bool = True
    logger: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    config: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    vbench: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Validate the values (also for settings built by hand, without Hydra).

        Raises:
            ValueError: naming the bad key and the allowed values.
        """
        self.retime.check()
        self.pacing.check()
        self.spf.check()
        if self.embedder_name not in tuple(EMBEDDERS):
            raise ValueError(f"embedder={self.embedder_name!r} is not one of {tuple(EMBEDDERS)}")
        bad = [e for e in self.eval_embedders if e not in tuple(EMBEDDERS)]
        if bad or self.embedder_name in self.eval_embedders:
            raise ValueError(
                f"eval_embedders={list(self.eval_embedders)}: held-out embedders must be among "
                f"{tuple(EMBEDDERS)} and differ from the guiding embedder {self.embedder_name!r}"
            )
        if self.n_videos < 1:
            raise ValueError(f"n_videos must be >= 1, got {self.n_videos}")
        if not 0 <= self.shard_index < self.shard_count:
            raise ValueError(
                f"shard.index={self.shard_index} must lie in [0, shard.count={self.shard_count})"
            )
        if self.logger.get("name", "none") not in ("none", "wandb"):
            raise ValueError(f"logger={self.logger.get('name')!r} is not one of ('none', 'wandb')")
        if self.resume not in RESUME_POLICIES:
            raise ValueError(f"resume={self.resume!r} is not one of {RESUME_POLICIES}")


# -------------------------------------------------------------------------------- identity
#: Bumped whenever code changes what a run writes for the same config and inputs (scores,
#: record columns, file layout). Part of the run identity; the git sha is recorded, not hashed.
RESULTS_VERSION = 2

#: Keys that do not change results, left out of the config hash (so n_videos=8 reuses the
#: items of an n_videos=4 run, and logging or plotting choices never invalidate work).
#: ``save_videos`` is *in* the hash: a run without videos cannot serve a later VBench pass.
HASH_EXCLUDE = tuple(
    "logger run_dir n_videos shard plots progress hydra vbench resume report".split()
)


def input_digests(target: str, kwargs: dict[str, Any]) -> dict[str, str]:
    """Content digests of the files a generator reads (prompt suites, footage...), as listed
    by its optional ``input_files(**kwargs)`` classmethod (``generators.base.Generator``).

    Returns:
        ``{path: sha256 hex}``, sorted by path; files shipped inside spf-bench (prompt suite,
        toy checkpoint) are named ``spf_bench/<path in the package>`` so the identity does not
        depend on where the package lives.

    Raises:
        ValueError: the generator cannot be imported or an input cannot be read (naming it).
    """
    lister = getattr(import_target(target), "input_files", None)
    if lister is None:
        return {}
    root = CONF_DIR.parent.resolve()  # the package: the checkout, or site-packages/spf_bench

    def key(p: Path) -> str:  # files shipped with spf-bench by package path: same on any host
        p = p.resolve()
        return f"spf_bench/{p.relative_to(root)}" if p.is_relative_to(root) else str(p)

    try:
        files = sorted({Path(p) for p in lister(**kwargs)})
        return dict(sorted((key(p), file_digest(p)) for p in files))
    except (OSError, RuntimeError) as err:
        raise ValueError(f"cannot read the inputs of model {target}: {err}") from err


def run_identity(cfg: dict[str, Any], inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """What makes two runs the same: the result-relevant config, the content of every input
    file and :data:`RESULTS_VERSION`.

    Args:
        cfg: the resolved config as plain containers (enums as strings).
        inputs: :func:`input_digests` of the model's files.

    Returns:
        ``{"config": {...}, "inputs": {...}, "results_version": int, "hash": 10 hex digits}``
        (keys in :data:`HASH_EXCLUDE` do not count; key order does not matter).
    """
    ident = {
        "config": {k: v for k, v in cfg.items() if k not in HASH_EXCLUDE},
        "inputs": dict(sorted((inputs or {}).items())),
        "results_version": RESULTS_VERSION,
    }
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return {**ident, "hash": hashlib.sha256(blob).hexdigest()[:10]}


def config_hash(cfg: dict[str, Any], inputs: dict[str, str] | None = None) -> str:
    """The run identity's hash (:func:`run_identity`): 10 lowercase hex digits."""
    return run_identity(cfg, inputs)["hash"]


def identity_difference(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two :func:`run_identity` values (empty if equal)."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if not isinstance(d, dict):
            return {prefix[:-1]: d}
        return {k: v for key, val in d.items() for k, v in flat(val, f"{prefix}{key}.").items()}

    a, b = (
        flat({k: d.get(k) for k in ("config", "inputs", "results_version")}) for d in (old, new)
    )
    pairs = ((k, a.get(k, "<absent>"), b.get(k, "<absent>")) for k in sorted(set(a) | set(b)))
    return [f"{k}: {x!r} -> {y!r}" for k, x, y in pairs if x != y]


# -------------------------------------------------------------------------------- sharding
def shard_count(shard: dict[str, Any], n_videos: int) -> int:
    """Number of shards of a configuration from its ``shard`` node.

    ``shard.size`` (items per job) wins when set: ``ceil(n_videos / size)``; else ``shard.count``.

    Raises:
        ValueError: ``shard.size`` or ``shard.count`` is not a positive integer.
    """
    size = shard.get("size")
    if size is None:
        count = int(shard.get("count", 1))
        if count < 1:
            raise ValueError(f"shard.count must be >= 1, got {count}")
        return count
    if isinstance(size, bool) or int(size) < 1:
        raise ValueError(f"shard.size must be a positive integer or null, got {size!r}")
    return max(1, math.ceil(int(n_videos) / int(size)))


def shard_items(items: Sequence[Any], index: int, count: int) -> list[Any]:
    """The items of shard ``index`` of ``count``: every ``count``-th item from ``index``
    (strided, so each shard mixes the suite's item kinds; at most ``ceil(len / count)``).

    Raises:
        ValueError: unless ``0 <= index < count``.
    """
    if not 0 <= int(index) < int(count):
        raise ValueError(f"shard.index={index} must lie in [0, shard.count={count})")
    return list(items)[int(index) :: int(count)]


def shard_size(n_videos: int, index: int, count: int) -> int:
    """Number of items in shard ``index`` of ``count`` for ``n_videos`` items."""
    return len(shard_items(range(int(n_videos)), index, count))


# -------------------------------------------------------------------------------- conversion
def split_model_config(cfg: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Split a resolved ``model`` mapping into ``(name, "module.Class", kwargs)``.

    ``suite_size`` (the default ``n_videos``) is dropped; the other keys are constructor kwargs.

    Raises:
        ValueError: if ``name`` or ``_target_`` is missing.
    """
    kwargs = dict(cfg)
    missing = [k for k in ("name", "_target_") if not kwargs.get(k)]
    if missing:
        raise ValueError(f"model config lacks {missing}: {sorted(cfg)}")
    name, target = str(kwargs["name"]), str(kwargs["_target_"])
    for key in MODEL_META_KEYS:
        kwargs.pop(key, None)
    return name, target, kwargs


def resolved_config(cfg: Any) -> dict[str, Any]:
    """The composed config as plain containers: interpolations resolved, enums as their names,
    no ``hydra`` node (what is hashed and saved to ``config.json``)."""
    out = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True, enum_to_str=True)
    assert isinstance(out, dict)
    out.pop("hydra", None)
    return out


def resolve_eval_embedders(value: list[str] | None, guide: str) -> list[str]:
    """The held-out embedders of a run.

    Returns:
        ``value`` as given, or for ``None`` every held-out embedder whose weights are on this
        machine (:func:`spf_bench.metrics.embedders.available_embedders`) other than ``guide``.
    """
    if value is not None:
        return [str(v) for v in value]
    return [
        e for e in available_embedders(with_weights=True) if e != guide and EMBEDDERS[e].heldout
    ]


def settings_from_config(cfg: Any, *, cwd: Path | None = None) -> BenchSettings:
    """Turn the composed Hydra config into :class:`BenchSettings` (validated).

    Args:
        cfg: the ``DictConfig`` composed from ``conf/config.yaml``.
        cwd: base of the default run directory ``runs/<model>-<retime>-<embedder>-<pacing>-
            <hash>`` when ``run_dir`` is null (default: the current working directory).

    Raises:
        ValueError: on a value that breaks a cross-field rule, naming the key.
    """
    resolved = resolved_config(cfg)
    name, target, model = split_model_config(resolved["model"])
    emb = dict(resolved["embedder"])
    emb_name = emb.pop("name")
    retime, pacing = dict(resolved["retime"]), dict(resolved["pacing"])
    resolved["eval_embedders"] = resolve_eval_embedders(resolved.get("eval_embedders"), emb_name)
    identity = run_identity(resolved, input_digests(target, model))
    digest = identity["hash"]
    run_dir = resolved.get("run_dir") or (
        (cwd or Path.cwd())
        / "runs"
        / f"{name}-{retime['name']}-{emb_name}-{pacing['name']}-{digest}"
    )
    if retime.get("regenerator") in ("", "none", "null"):
        retime["regenerator"] = None
    n_videos, shard = int(resolved["n_videos"]), resolved["shard"]
    flags = {k: bool(resolved.get(k, True)) for k in ("save_videos", "plots", "report", "progress")}
    settings = BenchSettings(
        model_name=name,
        model_target=target,
        model_kwargs=model,
        embedder_name=emb_name,
        embedder_kwargs=emb,
        eval_embedders=tuple(resolved["eval_embedders"]),
        run_dir=Path(run_dir),
        retime=RetimeSettings(**retime),
        pacing=PacingSettings(**pacing),
        spf=SPFSettings(**resolved["spf"]),
        n_videos=n_videos,
        seed=int(resolved["seed"]),
        shard_index=int(shard["index"]),
        shard_count=shard_count(shard, n_videos),
        config_hash=digest,
        identity=identity,
        resume=str(resolved.get("resume", "auto")),
        **flags,
        logger=dict(resolved["logger"]),
        vbench=dict(resolved.get("vbench") or {}),
        config=resolved,
    )
    settings.check()
    if settings.retime.name == "segmented" and settings.retime.regenerator is not None:
        compose_model(settings.retime.regenerator)  # an unknown regenerator fails before work
    return settings


def compose_model(
    name: str, overrides: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Compose ``conf/model/<name>.yaml`` on its schema, as ``bench/run.py`` would, and split it.

    For the FLF regenerator of ``retime=segmented``; uses the running Hydra app's search path,
    else the package's ``spf_bench.conf``. ``overrides`` (``{"mode": "flf"}``) replace the
    file's keys, typed by the schema. Returns ``(name, "module.Class", kwargs)``.

    Raises:
        ValueError: unknown option (listing the available ones), a misspelt key or a wrong
            type in ``overrides``.
    """
    register_configs()
    over = [f"model={name}"] + [
        f"model.{k}={json.dumps(v) if not isinstance(v, str) else v}"
        for k, v in (overrides or {}).items()
    ]
    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose("config", overrides=over)
        else:
            with initialize_config_module("spf_bench.conf", version_base="1.3"):
                cfg = compose("config", overrides=over)
    except (HydraException, OmegaConfBaseException) as err:
        known = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
        what = f"no model config {name!r}" if name not in known else f"model {name!r}"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{what} (available: {', '.join(known)}); overrides {overrides or {}}: {first}"
        ) from err
    model = OmegaConf.to_container(cfg.model, resolve=True, enum_to_str=True)
    assert isinstance(model, dict)
    return split_model_config(model)
