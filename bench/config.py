"""Typed configuration, run identity and sharding: where the Hydra config becomes settings.

``conf/`` holds the YAML; this module holds its schema: Hydra structured configs registered by
:func:`register_configs` (:class:`BenchConfig` at the top level, one schema per group, and one
per generator class built from its constructor by :func:`model_schema`), so a misspelt key, a
wrong type or an unknown choice fails when Hydra composes, before any work.
:func:`settings_from_config` checks the cross-field rules and returns :class:`BenchSettings`,
all ``bench/pipeline.py`` sees; :func:`config_hash` is the run identity and
:func:`shard_count` / :func:`shard_items` the one sharding rule.

No ``from __future__ import annotations``: OmegaConf reads the annotations at runtime.
"""

import dataclasses
import enum
import functools
import hashlib
import importlib
import inspect
import json
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from spf_bench.bench.plugins import plugin_generators, register_config_path_resolver
from spf_bench.conf import CONF_DIR
from spf_bench.generators.base import file_digest
from spf_bench.generators.posthoc.resample import INTERPOLATIONS
from spf_bench.generators.retime import COMPOSITIONS, LOOP_MODES, UPDATE_RULES, loop_settings
from spf_bench.metrics import spf
from spf_bench.metrics.embedders import EMBEDDERS, available_embedders
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import PacingSettings, SPFSettings

__all__ = [
    "HASH_EXCLUDE",
    "MODEL_FAMILIES",
    "RESULTS_VERSION",
    "RETIME_MODES",
    "BenchConfig",
    "BenchSettings",
    "EmbedderConfig",
    "LoggerConfig",
    "PacingConfig",
    "RetimeConfig",
    "RetimeSettings",
    "SPFConfig",
    "ShardConfig",
    "VBenchConfig",
    "compose_model",
    "config_hash",
    "identity_difference",
    "import_target",
    "input_digests",
    "model_schema",
    "register_configs",
    "resolve_eval_embedders",
    "resolved_config",
    "run_identity",
    "settings_from_config",
    "shard_count",
    "shard_items",
    "shard_size",
    "split_model_config",
]

RETIME_MODES = ("none", "warped", "resample", "segmented")
#: Post-hoc modes (docs/method.md, Sec. 5): the generator is wrapped by generators/posthoc.
POSTHOC_MODES = ("resample", "segmented")


class _Choice(str, enum.Enum):
    """A config choice whose ``str()`` is its value (``${retime.name}`` reads ``warped``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def _choices(name: str, values: Sequence[str]) -> type[enum.Enum]:
    """An enum of ``values``, each member named and valued by its string."""
    choice = _Choice(name, [(v, v) for v in values], module=__name__)
    globals()[name] = choice  # importable by name: configs pickle (submitit) by reference
    return choice  # type: ignore[return-value]


def _embedder_names() -> tuple[str, ...]:
    return tuple(EMBEDDERS)


RetimeMode = _choices("RetimeMode", RETIME_MODES)
UpdateRule = _choices("UpdateRule", UPDATE_RULES)
Interpolation = _choices("Interpolation", INTERPOLATIONS)
PacingName = _choices("PacingName", spf.PACINGS)
EstimatorName = _choices("EstimatorName", ESTIMATORS)
EmbedderName = _choices("EmbedderName", _embedder_names())
LoggerName = _choices("LoggerName", ("none", "wandb"))
TorchDtype = _choices("TorchDtype", ("float32", "float16", "bfloat16"))
CompositionChoice = _choices("CompositionChoice", COMPOSITIONS)
RetimeLoopMode = _choices("RetimeLoopMode", LOOP_MODES)
#: ``auto``: resume a run directory of the same identity, refuse another's; ``never``: refuse
#: one that holds records; ``force``: run in it anyway, overwriting another identity's work.
RESUME_POLICIES = ("auto", "never", "force")
ResumePolicy = _choices("ResumePolicy", RESUME_POLICIES)


# -------------------------------------------------------------------------------- schemas
@dataclass
class ShardConfig:
    """Shard selector: this job runs items ``i`` with ``i % count == index``; ``size`` (items
    per job), when set, overrides ``count`` with ``ceil(n_videos / size)``."""

    index: int = 0
    count: int = 1
    size: int | None = None


def _schema_of(settings: type, schema_name: str, doc: str, **choices: type[enum.Enum]) -> type:
    """A Hydra schema with the fields and defaults of ``settings``; ``choices`` retype as enums."""
    hints, fields = typing.get_type_hints(settings), []
    for f in dataclasses.fields(settings):
        ftype = choices.get(f.name, hints[f.name])
        if f.default is dataclasses.MISSING:
            fields.append((f.name, ftype, field(default_factory=f.default_factory)))
        else:
            fields.append(
                (f.name, ftype, field(default=ftype[f.default] if f.name in choices else f.default))
            )
    schema = dataclasses.make_dataclass(schema_name, fields)
    schema.__module__, schema.__qualname__, schema.__doc__ = __name__, schema_name, doc
    return schema


@dataclass(frozen=True)
class RetimeSettings:
    """The ReTime loop (docs/method.md, Sec. 4-5).

    Attributes:
        name: one of :data:`RETIME_MODES`.
        iterations: refinements after the baseline (0 for ``none``, 1 for ``segmented``).
        mode, update, composition: the loop's position rules
            (:func:`spf_bench.generators.retime.loop_settings`; docs/method.md, Sec. 4).
        a_low, a_high, lam: band schedule (:func:`spf_bench.generators.retime.band_strengths`).
        interpolation: post-hoc resampling (``nearest`` | ``linear`` | ``flow``).
        regenerator: ``conf/model`` name of the first-last-frame (FLF) regenerator of
            ``segmented`` or ``None``; ``regenerator_options`` overrides its keys.
        k, penalty, penalty_per_frame: the number of segments ``K``: ``k`` exactly, else cost
            ``penalty`` per piece on ``S`` in [0, 1] or, with ``penalty=None``,
            ``penalty_per_frame * T`` (docs/method.md, Sec. 5).
        prompt: prompt of the regenerated segments when the item has none.
        refine: refinements of the segment plan.
        heldout_stop, heldout_min_gain: stop an item's refinements once its mean held-out
            Linearity gains less than ``heldout_min_gain`` over the last iteration.
    """

    name: str = "none"
    iterations: int = 0
    mode: str = "default"
    update: str = "compose"
    composition: str = "reference"
    a_low: float = 0.2
    a_high: float = 0.8
    lam: float = 3.0
    interpolation: str = "linear"
    regenerator: str | None = None
    regenerator_options: dict[str, Any] = field(default_factory=dict)
    k: int | None = None
    penalty: float | None = spf.SEGMENT_PENALTY
    penalty_per_frame: float = 2e-5
    prompt: str | None = None
    refine: int = 2
    heldout_stop: bool = False
    heldout_min_gain: float = 0.0

    def check(self) -> None:
        """Cross-field rules of the retime keys.

        Raises:
            ValueError: naming the bad key.
        """
        if self.name not in RETIME_MODES:
            raise ValueError(f"retime={self.name!r} is not one of {RETIME_MODES}")
        if self.iterations < 0 or (self.name == "none" and self.iterations):
            raise ValueError(
                f"retime.iterations={self.iterations}: must be >= 0, and 0 for retime=none"
            )
        if self.update not in UPDATE_RULES:
            raise ValueError(f"retime.update={self.update!r} is not one of {UPDATE_RULES}")
        loop_settings(self.mode, self.update, self.composition)
        for nm in ("a_low", "a_high"):
            v = float(getattr(self, nm))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"retime.{nm} must lie in [0, 1], got {v}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"retime.interpolation={self.interpolation!r} is not one of {INTERPOLATIONS}"
            )
        if self.name == "resample" and self.iterations < 1:
            raise ValueError(f"retime=resample needs iterations >= 1, got {self.iterations}")
        if self.name == "resample" and self.regenerator is not None:
            raise ValueError("retime.regenerator is used by retime=segmented only")
        if self.name == "segmented" and self.iterations != 1:
            raise ValueError(
                "retime=segmented is one regeneration pass: iterations must be 1, got "
                f"{self.iterations}"
            )
        if int(self.refine) < 0:
            raise ValueError(f"retime.refine must be >= 0, got {self.refine}")
        if self.k is not None and int(self.k) < 1:
            raise ValueError(f"retime.k must be null or an integer >= 1, got {self.k!r}")
        for key in ("penalty", "penalty_per_frame"):
            v = getattr(self, key)
            if v is not None and not (math.isfinite(float(v)) and float(v) >= 0):
                raise ValueError(f"retime.{key} must be finite and >= 0, got {v!r}")


#: The ``spf`` block: the fields of :class:`~spf_bench.metrics.measure.SPFSettings`.
SPFConfig = _schema_of(
    SPFSettings,
    "SPFConfig",
    "SPF hyper-parameters (docs/method.md, Sec. 1).",
    estimator=EstimatorName,
)
#: The ``retime`` group (``conf/retime/*.yaml``): the fields of :class:`RetimeSettings`.
RetimeConfig = _schema_of(
    RetimeSettings,
    "RetimeConfig",
    "The retime group: the fields of RetimeSettings.",
    name=RetimeMode,
    mode=RetimeLoopMode,
    update=UpdateRule,
    composition=CompositionChoice,
    interpolation=Interpolation,
)
#: The ``pacing`` group: the fields of :class:`~spf_bench.metrics.measure.PacingSettings`.
PacingConfig = _schema_of(
    PacingSettings,
    "PacingConfig",
    "The pacing group: target pacing curve and temperature (docs/method.md, Sec. 3).",
    name=PacingName,
)


@dataclass
class EmbedderConfig:
    """The ``embedder`` group: keyword arguments of
    :func:`spf_bench.metrics.embedders.build_embedder`."""

    name: EmbedderName = EmbedderName.efficientnet_lite0  # type: ignore[valid-type,attr-defined]
    device: str = "cpu"
    dtype: TorchDtype = TorchDtype.float32  # type: ignore[valid-type,attr-defined]
    batch_size: int = 16
    weights: str | None = None
    allow_download: bool = False


@dataclass
class LoggerConfig:
    """The ``logger`` group: ``none`` or ``wandb`` (offline by default)."""

    name: LoggerName = LoggerName.none  # type: ignore[valid-type,attr-defined]
    mode: str = "offline"
    project: str = "spf-bench"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class VBenchConfig:
    """The ``vbench`` block (docs/vbench.md); checked in full by
    :class:`spf_bench.metrics.vbench.VBenchSettings`."""

    enabled: bool = False
    dims: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    torch_home: str | None = None
    venv: str | None = None
    device: str = "cpu"
    threads: int = 1
    drift: bool = True
    drift_dims: list[str] | None = None
    timeout_s: float | None = None


@dataclass
class BenchConfig:
    """The top-level keys of ``conf/config.yaml``; the groups are typed by their own schemas."""

    model: Any = None
    retime: RetimeConfig = field(default_factory=RetimeConfig)
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    eval_embedders: list[EmbedderName] | None = None  # type: ignore[valid-type]
    pacing: PacingConfig = field(default_factory=PacingConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    n_videos: int = 4
    seed: int = 0
    shard: ShardConfig = field(default_factory=ShardConfig)
    spf: SPFConfig = field(default_factory=SPFConfig)
    run_dir: str | None = None
    resume: ResumePolicy = ResumePolicy.auto  # type: ignore[valid-type,attr-defined]
    save_videos: bool = True
    plots: bool = True
    report: bool = True
    progress: bool = True
    vbench: VBenchConfig = field(default_factory=VBenchConfig)


# -------------------------------------------------------------------------------- model schemas
#: Generator families: ``schema_<family>`` in the ``model`` group types ``conf/model/*.yaml``.
#: The built-in ones, then those installed packages register by entry point
#: (:func:`spf_bench.bench.plugins.plugin_generators`, docs/extending.md).
MODEL_FAMILIES: dict[str, str] = {
    "morph": "spf_bench.generators.morph.MorphGenerator",
    "footage": "spf_bench.generators.footage.FootageGenerator",
    "pacing_gt": "spf_bench.generators.pacing_gt.PacingGTGenerator",
    "wan22": "spf_bench.generators.wan22.Wan22Generator",
    "ltx2": "spf_bench.generators.ltx2.LTX2Generator",
    "hunyuan_video": "spf_bench.generators.hunyuan.HunyuanVideoGenerator",
    "wan22_toy": "spf_bench.generators.wan22_toy.Wan22ToyGenerator",
}


for _family, _target in plugin_generators().items():
    if _family in MODEL_FAMILIES:
        raise ValueError(
            f"generator entry point {_family!r} ({_target}) reuses a built-in model family name"
        )
    MODEL_FAMILIES[_family] = _target
# conf/config.yaml's hydra.searchpath reads this resolver: any code that composes it has this
# module imported (the schemas live here), so composing works without register_configs() too.
register_config_path_resolver()

#: Keys of a ``conf/model`` file that are not constructor arguments of its generator.
MODEL_META_KEYS = ("name", "_target_", "suite_size")

_SCALARS = (int, float, bool, str)


def _field_type(hint: Any, family: str, param: str) -> Any:
    """Map a constructor type hint onto one OmegaConf can enforce (``Any`` when it cannot)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _SCALARS:
        return hint
    if origin is typing.Literal and all(isinstance(a, str) for a in args):
        return _choices(f"{family.title()}{param.title().replace('_', '')}", args)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            inner = _field_type(rest[0], family, param)
            return Any if inner is Any else inner | None
        return Any
    if origin in (list, tuple, Sequence, typing.Sequence) and args:
        inner = _field_type(args[0], family, param)
        return Any if inner is Any else list[inner]  # type: ignore[valid-type]
    return Any


def import_target(target: str) -> type:
    """The class (not an instance) a Hydra ``_target_`` names (``"package.module.Class"``).

    Raises:
        ValueError: if the module or the name cannot be imported, naming the target.
    """
    mod, _, cls = target.rpartition(".")
    try:
        return getattr(importlib.import_module(mod), cls)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"model._target_={target!r} cannot be imported: {err}") from err


def model_schema(family: str, target: str) -> type:
    """A Hydra structured-config dataclass for generator ``target`` (``"module.Class"``) of
    ``family``, from its constructor: each keyword parameter becomes a field with its default,
    typed by its hint when OmegaConf can enforce it (scalars, ``Optional`` and lists of those,
    ``Literal`` choices as an enum), else ``Any``; plus ``name``, ``_target_``, ``suite_size``.

    Raises:
        ValueError: the target cannot be imported.
    """
    cls = import_target(target)
    sig = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    fields: list[tuple[str, Any, Any]] = [
        ("name", str, field(default=family)),
        ("_target_", str, field(default=target)),
        ("suite_size", int, field(default=4)),
    ]
    for pname, p in sig.parameters.items():
        if (
            pname == "self"
            or pname in MODEL_META_KEYS
            or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ):
            continue
        ftype = _field_type(hints.get(pname, Any), family, pname)
        default = p.default
        if default is inspect.Parameter.empty:
            fields.append((pname, ftype, field(default=None)))
            continue
        if isinstance(default, tuple | list | dict):
            value = list(default) if not isinstance(default, dict) else dict(default)
            fields.append((pname, ftype, field(default_factory=lambda v=value: v)))
            continue
        optional = typing.get_origin(ftype) in (typing.Union, types.UnionType)
        choice = typing.get_args(ftype)[0] if optional else ftype
        if isinstance(choice, type) and issubclass(choice, enum.Enum) and default is not None:
            default = choice[default]
        fields.append((pname, ftype, field(default=default)))
    name = f"{family.title().replace('_', '')}ModelConfig"
    schema = dataclasses.make_dataclass(name, fields)
    schema.__module__, schema.__qualname__ = __name__, name
    globals()[name] = schema  # importable by name: configs pickle (submitit) by reference
    return schema


def register_configs() -> None:
    """Register every schema in Hydra's ConfigStore, ``model/schema_<family>`` for each of
    :data:`MODEL_FAMILIES`, and the config-path resolver (idempotent; call before composing)."""
    register_config_path_resolver()
    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchConfig)
    cs.store(group="retime", name="_schema", node=RetimeConfig)
    cs.store(group="embedder", name="_schema", node=EmbedderConfig)
    cs.store(group="pacing", name="_schema", node=PacingConfig)
    cs.store(group="logger", name="_schema", node=LoggerConfig)
    for family, schema in model_schemas().items():
        cs.store(group="model", name=f"schema_{family}", node=schema)


@functools.cache
def model_schemas() -> dict[str, type]:
    """The schema of every :data:`MODEL_FAMILIES` entry (:func:`model_schema`), built once per
    process so each class keeps one identity (a pickled config refers to it by name)."""
    return {family: model_schema(family, target) for family, target in MODEL_FAMILIES.items()}


def __getattr__(name: str) -> Any:
    """PEP 562 fallback: builds the model schemas and enums a config being unpickled names."""
    if not name.startswith("__"):
        model_schemas()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        if self.embedder_name not in _embedder_names():
            raise ValueError(f"embedder={self.embedder_name!r} is not one of {_embedder_names()}")
        bad = [e for e in self.eval_embedders if e not in _embedder_names()]
        if bad or self.embedder_name in self.eval_embedders:
            raise ValueError(
                f"eval_embedders={list(self.eval_embedders)}: held-out embedders must be among "
                f"{_embedder_names()} and differ from the guiding embedder {self.embedder_name!r}"
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
