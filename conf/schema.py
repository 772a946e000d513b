"""The schema of ``conf/``: Hydra structured configs, so a misspelt key, a wrong type or an
unknown choice fails when Hydra composes, before any work.

:func:`register_configs` stores :class:`BenchConfig` (the top level), one schema per group and
one per generator class built from its constructor by :func:`model_schema` (the built-in
:data:`MODEL_FAMILIES` and those of :func:`spf_bench.conf.plugins.plugin_generators`).
:class:`RetimeSettings` is the ``retime`` group as plain values. Cross-field rules, settings and
run identity: :mod:`spf_bench.bench.config`.

No ``from __future__ import annotations``: OmegaConf reads the annotations at runtime.
"""

import dataclasses
import enum
import functools
import importlib
import inspect
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from spf_bench.conf.plugins import plugin_generators, register_config_path_resolver
from spf_bench.generators.posthoc.resample import INTERPOLATIONS
from spf_bench.generators.retime import COMPOSITIONS, LOOP_MODES, UPDATE_RULES, loop_settings
from spf_bench.metrics import spf
from spf_bench.metrics.embedders import EMBEDDERS
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import PacingSettings, SPFSettings
from spf_bench.metrics.vbench.registry import VBenchSettings

__all__ = [
    "MODEL_FAMILIES",
    "MODEL_META_KEYS",
    "POSTHOC_MODES",
    "RESUME_POLICIES",
    "RETIME_MODES",
    "BenchConfig",
    "EmbedderConfig",
    "LoggerConfig",
    "PacingConfig",
    "RetimeConfig",
    "RetimeSettings",
    "SPFConfig",
    "ShardConfig",
    "VBenchConfig",
    "import_target",
    "model_schema",
    "model_schemas",
    "register_configs",
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


def _schema_of(settings: type, schema_name: str, doc: str, **types_: Any) -> type:
    """A Hydra schema with the fields and defaults of ``settings``; ``types_`` retype fields
    (an enum: the default becomes its member; a list: a tuple default becomes a list)."""
    hints, fields = typing.get_type_hints(settings), []
    for f in dataclasses.fields(settings):
        ftype, default = types_.get(f.name, hints[f.name]), f.default
        if isinstance(ftype, type) and issubclass(ftype, enum.Enum):
            default = ftype[default]
        if default is dataclasses.MISSING or isinstance(default, tuple):
            make = f.default_factory if default is dataclasses.MISSING else lambda d=default: [*d]
            fields.append((f.name, ftype, field(default_factory=make)))
        else:
            fields.append((f.name, ftype, field(default=default)))
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
        guide_estimator: the SPF estimator whose ``S`` the ReTime loop inverts for the next
            positions: ``None`` (the run's ``spf.estimator``, which reads every score) or
            ``"paper"`` (:func:`spf_bench.generators.retime.retime_loop`'s ``guide``;
            ``conf/retime/warped.yaml`` sets it; docs/method.md, Sec. 4, *Guide*).
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
    guide_estimator: str | None = None

    def check(self) -> None:
        """Cross-field rules of the retime keys.

        Raises:
            ValueError: naming the bad key.
        """
        if self.name not in RETIME_MODES:
            raise ValueError(f"retime={self.name!r} is not one of {RETIME_MODES}")
        if self.guide_estimator not in (None, "paper"):
            raise ValueError(
                f"retime.guide_estimator={self.guide_estimator!r}: null (the run's "
                "spf.estimator) or paper (the S every measurement also carries)"
            )
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


#: The ``vbench`` block (docs/vbench.md): the fields of
#: :class:`~spf_bench.metrics.vbench.VBenchSettings`, which checks them in full.
VBenchConfig = _schema_of(
    VBenchSettings,
    "VBenchConfig",
    "The vbench block: the fields of VBenchSettings (docs/vbench.md).",
    dims=list[str],
    drift_dims=list[str] | None,
)


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
#: (:func:`spf_bench.conf.plugins.plugin_generators`, docs/extending.md).
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
