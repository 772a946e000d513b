"""The run's objects from plain settings (for ``bench/pipeline.py`` and ``spf-bench retime``):
the generator, its post-hoc retimer, the first-last-frame (FLF) regenerator, the measurement."""

from __future__ import annotations

import functools
from typing import Any

from spf_bench.bench.config import compose_model
from spf_bench.conf.schema import RetimeSettings, import_target
from spf_bench.generators.base import Generator
from spf_bench.generators.posthoc import ResampledGenerator, SegmentedRetimer
from spf_bench.metrics.measure import PacingSettings, SPFSettings, measure_frames

__all__ = [
    "build_generator",
    "build_regenerator",
    "measure_with",
    "posthoc_generator",
    "regenerator_options",
]


def build_generator(target: str, kwargs: dict[str, Any]) -> Generator:
    """Instantiate ``"module.Class"`` with ``kwargs`` and check it implements the protocol.

    Raises:
        ValueError: if the target cannot be imported or is not a
            :class:`~spf_bench.generators.base.Generator`.
        spf_bench.generators.base.GeneratorError: the generator refuses its settings.
    """
    gen = import_target(target)(**kwargs)
    if not isinstance(gen, Generator):
        raise ValueError(f"{target} does not implement spf_bench.generators.base.Generator")
    return gen


def regenerator_options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The overrides of ``conf/model/<name>.yaml`` a regenerator is built with.

    ``retime.regenerator_options`` defaults to ``{mode: flf}``: pipelines with several modes
    (Wan2.2 I2V, LTX-2) must render first-last-frame. A model whose config has no ``mode`` key
    has one mode only (``wan22_toy`` is first-last-frame conditioned by construction), so
    ``mode: flf`` is dropped for it; any other ``mode`` is refused.

    Args:
        name: a ``conf/model`` option.
        options: overrides of its keys (``None``: none).

    Returns:
        The overrides to compose with.

    Raises:
        ValueError: unknown config, or a ``mode`` other than ``flf`` for a model without modes.
    """
    opts = dict(options or {})
    if "mode" not in opts:
        return opts
    _, _, kwargs = compose_model(str(name))
    if "mode" in kwargs:
        return opts
    if str(opts["mode"]) != "flf":
        raise ValueError(
            f"regenerator {name!r} has a single mode (first-last-frame); "
            f"regenerator_options.mode={opts['mode']!r} cannot apply"
        )
    opts.pop("mode")
    return opts


def build_regenerator(name: str | None, options: dict[str, Any] | None = None) -> Any:
    """The first-last-frame generator of ``conf/model/<name>.yaml`` with ``options`` applied
    (:func:`regenerator_options`), or ``None`` for ``name`` ``None``/``"none"``.

    Raises:
        ValueError: unknown config, key or target.
        spf_bench.generators.base.GeneratorError: the generator refuses its settings (e.g.
            missing weights).
    """
    if name is None or str(name).lower() in ("none", "null", ""):
        return None
    _, target, kwargs = compose_model(str(name), regenerator_options(str(name), options))
    return build_generator(target, kwargs)


def measure_with(embedder: Any, spf: SPFSettings, pacing: PacingSettings):
    """``frames -> Measurement`` with the run's embedder, SPF settings and pacing
    (:func:`spf_bench.metrics.measure.measure_frames`)."""
    return functools.partial(measure_frames, embedder=embedder, settings=spf, pacing=pacing)


def posthoc_generator(
    gen: Generator,
    retime: RetimeSettings,
    pacing: PacingSettings,
    spf: SPFSettings,
    embedder: Any,
) -> Any:
    """Wrap ``gen`` for ``retime.name`` ``resample`` or ``segmented`` (docs/method.md, Sec. 5).

    ``spf`` and ``embedder`` measure the segmented planner's proxy renders.

    Returns:
        A :class:`spf_bench.generators.posthoc.ResampledGenerator` or
        :class:`spf_bench.generators.posthoc.SegmentedRetimer`.

    Raises:
        ValueError: ``retime.name`` is not a post-hoc mode, or a bad regenerator.
    """
    if retime.name == "resample":
        return ResampledGenerator(gen, retime.interpolation)
    if retime.name != "segmented":
        raise ValueError(f"retime={retime.name!r} is not a post-hoc mode")
    return SegmentedRetimer(
        gen,
        measure_with(embedder, spf, pacing),
        build_regenerator(retime.regenerator, retime.regenerator_options),
        k=retime.k,
        penalty=retime.penalty,
        penalty_per_frame=retime.penalty_per_frame,
        pacing=pacing.name,
        temperature=pacing.temperature,
        interpolation=retime.interpolation,
        prompt=retime.prompt,
        refine=retime.refine,
    )
