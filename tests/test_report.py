"""The HTML reports (bench/views/report.py, its templates) on real runs, opened in a real browser.

Two tiny real runs (morph, pixel embedder, 2 items of 9 frames at 64 px; one ``retime=warped``
with one refinement and EfficientNet-Lite0 as held-out judge, one ``retime=none``) feed every
test. The browser tests drive Debian's headless
Chromium through chromedriver (selenium) and fail on a console error (severity SEVERE), a video
whose duration is not positive once its metadata is loaded, a video that does not play, a link or
``src`` that does not resolve to an existing local file (or that points to the network), an image
that did not decode, and a blank screenshot. Without a browser they are skipped on a developer
machine (the reason names ``apt-get install chromium chromium-driver``) and fail in CI
(``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.views.leaderboard import build_leaderboard
from spf_bench.bench.views.load import load_records
from spf_bench.bench.views.report import (
    ASSETS_DIR,
    REPORT_NAME,
    NotARunError,
    run_estimator,
    write_leaderboard_html,
    write_report,
)

INSTALL_HINT = "apt-get install chromium chromium-driver"
CI = os.environ.get("CI", "").lower() == "true"


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{"warped": run_dir, "none": run_dir}``: two real tiny runs (module-scoped)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark
    from spf_bench.conf.schema import register_configs

    base = tmp_path_factory.mktemp("report_runs")
    register_configs()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLCONFIGDIR", str(base / "_mpl"))
        for retime in ("warped", "none"):
            GlobalHydra.instance().clear()
            try:
                with initialize_config_module("spf_bench.conf", version_base="1.3"):
                    cfg = compose(
                        "config",
                        overrides=[
                            f"run_dir={base / retime}",
                            "model=morph",
                            f"retime={retime}",
                            "embedder=pixel",
                            "logger=none",
                            "progress=false",
                            "n_videos=2",
                            "model.n_frames=9",
                            "model.size=64",
                            f"retime.iterations={int(retime == 'warped')}",
                            # a held-out judge for the warped run (its report shows both)
                            "eval_embedders="
                            + ("[efficientnet_lite0]" if retime == "warped" else "[]"),
                        ],
                    )
            finally:
                GlobalHydra.instance().clear()
            run_benchmark(settings_from_config(cfg))
            out[retime] = base / retime
    return out


def _find_browser() -> tuple[str, str] | None:
    chrome = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
            if shutil.which(n)
        ),
        None,
    )
    driver = shutil.which("chromedriver")
    return (chrome, driver) if chrome and driver else None


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by chromedriver (selenium), console logs captured."""
    found = _find_browser()
    if found is None:
        msg = f"no headless Chromium + chromedriver on PATH: `{INSTALL_HINT}` (Debian)"
        if CI:
            pytest.fail(f"CI must install the browser before the tests (.ci/run): {msg}")
        pytest.skip(msg)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        msg = "selenium is not installed: `pip install -e .[dev]`"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    chrome, driver_bin = found
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--hide-scrollbars",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=driver_bin))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


# ---------------------------------------------------------------------------------- helpers
class _Refs(HTMLParser):
    """Every ``href``, ``src`` and ``poster`` of a page, and every ``id``."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.rows: list[list[str]] = []  # hrefs of each <tbody> row
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        for key in ("href", "src", "poster"):
            if a.get(key) is not None:
                self.refs.append((tag, key, a[key]))
                if key == "href" and tag == "a" and self._in_body and self.rows:
                    self.rows[-1].append(a[key])

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False


def _parse(path: Path) -> _Refs:
    p = _Refs()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _resolve(page: Path, ref: str) -> tuple[Path | None, str]:
    """The local file a reference of ``page`` points to (``None`` for an in-page anchor or a
    ``data:`` URI), and its fragment. Fails on a network URL."""
    if ref.startswith("data:"):
        return None, ""
    parts = urlsplit(urljoin(page.resolve().as_uri(), ref))
    assert parts.scheme == "file", f"{page.name}: {ref!r} is not a local file (no network)"
    target = Path(url2pathname(unquote(parts.path)))
    return (None if ref.startswith("#") else target), parts.fragment


def _check_refs_offline(page: Path) -> int:
    """Every href/src/poster of ``page`` resolves to an existing file (and an existing id)."""
    parsed = _parse(page)
    n = 0
    for tag, attr, ref in parsed.refs:
        target, frag = _resolve(page, ref)
        ids = parsed.ids
        if target is not None:
            assert target.is_file(), f"{page.name}: <{tag} {attr}={ref!r}> -> missing {target}"
            ids = _parse(target).ids if target.suffix == ".html" else ids
        if frag:
            assert frag in ids, f"{page.name}: {ref!r}: no element with id {frag!r}"
        n += 1
    return n


def _pages(run_dir: Path) -> list[Path]:
    return [run_dir / REPORT_NAME, *sorted((run_dir / ASSETS_DIR).glob("items-*.html"))]


def _severe(drv) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def _wait(drv, script: str, timeout: float = 30.0):
    """Poll ``return <script>`` until truthy; returns its value (fails on timeout)."""
    t0 = time.monotonic()
    while True:
        v = drv.execute_script("return " + script)
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for: {script}")
        time.sleep(0.1)


def _check_page_in_browser(drv, page: Path, *, play: bool = True) -> dict[str, int]:
    """Open ``page`` and fail on any problem the module docstring lists; returns counts."""
    drv.get_log("browser")  # flush the previous page's messages
    drv.get(page.resolve().as_uri())
    _wait(drv, "document.readyState === 'complete'")
    # links and sources, as the browser resolved them (relative to the page)
    refs = drv.execute_script(
        "return Array.from(document.querySelectorAll('[href],[src],[poster]')).map(e => "
        "[e.tagName, e.getAttribute('href') ?? e.getAttribute('src') ?? '', "
        "e.getAttribute('poster') ?? ''])"
    )
    n_refs = 0
    for tag, ref, poster in refs:
        for r in (ref, poster):
            if not r:
                continue
            target, frag = _resolve(page, r)
            if target is not None:
                assert target.is_file(), f"{page.name}: <{tag}> {r!r} -> missing {target}"
            elif frag:
                assert drv.execute_script("return !!document.getElementById(arguments[0])", frag)
            n_refs += 1
    # images: load the lazy ones, then every one must have decoded
    drv.execute_script(
        "document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; "
        "i.scrollIntoView(); })"
    )
    n_img = drv.execute_script("return document.images.length")
    _wait(drv, "Array.from(document.images).every(i => i.complete)")
    broken = drv.execute_script(
        "return Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
        ".map(i => i.getAttribute('src'))"
    )
    assert not broken, f"{page.name}: images that did not decode: {broken}"
    # videos: load metadata (they are preload=none), then duration must be > 0
    n_vid = drv.execute_script(
        "const v = document.querySelectorAll('video'); "
        "v.forEach(x => { x.preload = 'metadata'; x.load(); }); return v.length"
    )
    _wait(
        drv,
        "Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1 || v.error)",
        timeout=60,
    )
    bad = drv.execute_script(
        "return Array.from(document.querySelectorAll('video'))"
        ".filter(v => v.error || !(v.duration > 0) || !isFinite(v.duration))"
        ".map(v => [v.getAttribute('src'), v.duration, v.error && v.error.code])"
    )
    assert not bad, f"{page.name}: videos without a positive duration: {bad}"
    if play and n_vid >= 2:  # the first item's "play both": both videos advance
        drv.execute_script("document.querySelector('button.play-both').scrollIntoView()")
        drv.execute_script("document.querySelector('button.play-both').click()")
        _wait(
            drv,
            "Array.from(document.querySelector('button.play-both').closest('.videos')"
            ".querySelectorAll('video')).every(v => !v.paused && v.currentTime > 0.05)",
            timeout=30,
        )
    drv.execute_script("window.scrollTo(0, 0)")
    # a screenshot that is not blank
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(drv.get_screenshot_as_png())).convert("RGB"))
    n_colours = len(np.unique(img.reshape(-1, 3), axis=0))
    assert n_colours > 50 and img.std() > 10, (
        f"{page.name}: blank screenshot ({n_colours} colours, std {img.std():.1f})"
    )
    severe = _severe(drv)
    assert not severe, f"{page.name}: console errors: {severe}"
    return {"refs": n_refs, "images": n_img, "videos": n_vid}


# ---------------------------------------------------------------------------------- run report
def test_report_content_and_local_links(runs):
    rd = runs["warped"]
    path = write_report(rd)
    assert path == rd / REPORT_NAME and path.is_file()
    text = path.read_text(encoding="utf-8")
    items = sorted(pd.read_parquet(rd / "records.parquet").item_id.unique())
    assert len(items) == 2
    for item in items:
        assert f"id='item-{item}'" in text
    assert text.count('<svg role="img"') == 2  # one S chart per item (matplotlib SVG)
    assert text.count("<video ") == 4  # baseline + last iteration per item
    assert "preload='none'" in text and "controls muted loop" in text
    assert "target pacing (linear)" in text and "config_hash" in text
    assert "gain over baseline" in text and "No failures." in text
    assert "Linearity (guided: pixel)" in text and "held-out: efficientnet_lite0" in text
    assert not re.search(r"""(src|href)=['"]https?:""", text), "a report must not use the network"
    assert len(list((rd / ASSETS_DIR / "thumbs").glob("*.jpg"))) >= 4  # >= 2 keyframes x 2
    assert _check_refs_offline(path) > 10
    # rewriting reuses the thumbnails and gives the same page
    before = {p: p.stat().st_mtime_ns for p in (rd / ASSETS_DIR).rglob("*.jpg")}
    assert write_report(rd).read_text(encoding="utf-8") == text
    assert {p: p.stat().st_mtime_ns for p in (rd / ASSETS_DIR).rglob("*.jpg")} == before


def test_report_and_leaderboard_html_name_the_spf_estimator(runs, tmp_path):
    rd = runs["none"]
    records = pd.read_parquet(rd / "records.parquet")
    want = json.loads((rd / "config.json").read_text())["config"]["spf"]["estimator"]
    assert set(records.estimator) == {want}
    text = write_report(rd).read_text(encoding="utf-8")
    assert re.search(rf"SPF estimator</th><td class=.l.><code>{want}</code>", text)
    # old records (no column) read as the config's estimator, else the authors' ``paper``
    assert run_estimator(records.drop(columns="estimator"), {"spf": {"estimator": "link"}}) == (
        "link"
    )
    assert run_estimator(records.drop(columns="estimator"), {}) == "paper"
    html = write_leaderboard_html(
        build_leaderboard(load_records([rd]), n_resamples=50), tmp_path / "lb.html", [rd]
    ).read_text(encoding="utf-8")
    assert "<th class='l'>estimator</th>" in html and f"<td class='l'>{want}</td>" in html


def test_report_pages_and_failures(runs, tmp_path):
    rd = tmp_path / "run"
    shutil.copytree(runs["warped"], rd)
    df = pd.read_parquet(rd / "records.parquet")
    item = sorted(df.item_id.unique())[1]
    sel = (df.item_id == item) & (df.iteration == 1)
    df.loc[sel, "status"] = "failed"
    df.loc[sel, "error"] = "RuntimeError: <boom> & co"
    df.to_parquet(rd / "records.parquet", index=False)
    (rd / "summary.json").unlink()  # the report recomputes the summary from the records
    write_report(rd, page_size=1)
    pages = _pages(rd)
    assert [p.name for p in pages] == [REPORT_NAME, "items-002.html"]
    assert "RuntimeError: &lt;boom&gt; &amp; co" in pages[0].read_text(encoding="utf-8")
    assert f"items-002.html#item-{item}" in pages[0].read_text(encoding="utf-8")
    for p in pages:
        assert _check_refs_offline(p) > 5
    write_report(rd, page_size=16)  # fewer pages: the stale one is removed
    assert _pages(rd) == [rd / REPORT_NAME]


def _gain_cell(text: str, name: str) -> tuple[int, str, str]:
    """(paired, gain, CI) of ``name``'s row in the report's final-Linearity table."""
    m = re.search(
        rf"<tr><td class='l'>{re.escape(name)}</td><td>\d+</td><td>-?\d+</td><td>[^<]*</td>"
        r"<td>[^<]*</td><td>(\d+)</td><td>([+-]\d+\.\d{4}) (\[[^\]]*\])</td></tr>",
        text,
    )
    assert m, f"no gain row for {name!r}"
    return int(m.group(1)), m.group(2), m.group(3)


def test_summary_leaderboard_and_report_agree_when_a_final_iteration_failed(compose_cfg, tmp_path):
    """An item whose last iteration failed scores with its last ok iteration (0 here), so it
    is not paired: ``summary.json``, the leaderboard and the report give the same paired gain
    and the same 95% CI, for the guiding and the held-out embedder
    (:mod:`spf_bench.bench.results.stats`, one definition)."""
    import json

    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark
    from spf_bench.bench.results.rundir import RunDir
    from spf_bench.bench.stages import merge_run
    from spf_bench.metrics.atomic_io import atomic_write_json

    rd = tmp_path / "run"
    cfg = compose_cfg(
        [
            f"run_dir={rd}",
            "model=morph",
            "retime=warped",
            "embedder=pixel",
            "logger=none",
            "progress=false",
            "n_videos=4",
            "model.n_frames=9",
            "model.size=64",
            "retime.iterations=1",
            "eval_embedders=[efficientnet_lite0]",
            "plots=false",
            "report=false",
        ]
    )
    run_benchmark(settings_from_config(cfg))
    path = RunDir(rd).record_path("morph-0000", 1)
    row = json.loads(path.read_text())
    row.update(status="failed", error="RuntimeError: boom")
    atomic_write_json(path, row)
    _, summary = merge_run(rd, plots=False)
    lb = build_leaderboard(load_records([rd])).iloc[0]
    assert lb.n_paired == 3 and lb.n_failed == 1
    assert summary["n_paired"] == 3
    assert summary["linearity_gain_mean"] == pytest.approx(lb.delta_linearity, abs=0)
    assert summary["linearity_gain_ci"] == pytest.approx(
        [lb.delta_linearity_ci_low, lb.delta_linearity_ci_high], abs=0
    )
    assert summary["heldout_gain"] == pytest.approx(lb.heldout_delta, abs=0)
    assert summary["heldout_gain_ci"] == pytest.approx(
        [lb.heldout_delta_ci_low, lb.heldout_delta_ci_high], abs=0
    )
    text = write_report(rd).read_text(encoding="utf-8")
    for name, gain, lo, hi in (
        (
            "guided: pixel",
            lb.delta_linearity,
            lb.delta_linearity_ci_low,
            lb.delta_linearity_ci_high,
        ),
        (
            "held-out: efficientnet_lite0",
            lb.heldout_delta,
            lb.heldout_delta_ci_low,
            lb.heldout_delta_ci_high,
        ),
    ):
        n, g, ci = _gain_cell(text, name)
        assert (n, g, ci) == (3, f"{gain:+.4f}", f"[{lo:.4f}, {hi:.4f}]"), name
        assert lo <= float(g) <= hi, (name, g, ci)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(NotARunError, match="not a spf-bench run directory"):
        write_report(tmp_path)
    with pytest.raises(NotARunError):
        write_report(tmp_path / "missing")
    with pytest.raises(ValueError, match="page_size"):
        write_report(tmp_path, page_size=0)


def test_report_command(runs, tmp_path, capsys):
    from spf_bench.bench.views.report import add_parser as add_report_parser

    parser = argparse.ArgumentParser(prog="spf-bench")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    rd = tmp_path / "run"
    shutil.copytree(runs["none"], rd)
    args = parser.parse_args(["report", str(rd)])
    assert args.func(args) == 0
    assert (rd / REPORT_NAME).is_file()
    assert str(rd / REPORT_NAME) in capsys.readouterr().out
    (rd / REPORT_NAME).unlink()
    args = parser.parse_args(["report", str(tmp_path / "nope"), str(rd)])
    assert args.func(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "not a spf-bench run directory" in err[0]
    assert (rd / REPORT_NAME).is_file()  # the good one is still written


# ---------------------------------------------------------------------------------- leaderboard
def _leaderboard(runs, out: Path) -> Path:
    dirs = [runs["warped"], runs["none"]]
    lb = build_leaderboard(load_records(dirs), n_resamples=199)
    return write_leaderboard_html(lb, out, dirs)


def test_leaderboard_html_links_every_row_to_its_report(runs, tmp_path):
    path = _leaderboard(runs, tmp_path / "results" / "leaderboard.html")
    parsed = _parse(path)
    assert len(parsed.rows) == 2  # morph/warped and morph/none
    for hrefs in parsed.rows:
        reports = [h for h in hrefs if h.endswith(REPORT_NAME)]
        assert len(reports) == 1, hrefs
        target, _ = _resolve(path, reports[0])
        assert target.is_file() and target.parent.name in ("warped", "none")
    text = path.read_text(encoding="utf-8")
    assert text.count("<svg class='bar'") == 3  # Linearity CI per row, gain CI (warped)
    assert _check_refs_offline(path) >= 2


def test_leaderboard_html_matches_runs_by_config_hash(runs, tmp_path):
    """Two rows of one model x retime x embedder x pacing that differ in config hash (two
    settings, or two seeds) each link to their own run only."""
    other = tmp_path / "warped_b"
    shutil.copytree(runs["warped"], other)
    df = pd.read_parquet(other / "records.parquet")
    df["config_hash"] = "feedface00"
    df.to_parquet(other / "records.parquet", index=False)
    lb = build_leaderboard(load_records([runs["warped"]]), n_resamples=99)
    lb = pd.concat([lb, lb.assign(config_hash="feedface00")], ignore_index=True)
    path = write_leaderboard_html(lb, tmp_path / "lb.html", [runs["warped"], other, runs["none"]])
    rows = _parse(path).rows
    assert len(rows) == 2
    targets = [[_resolve(path, h)[0].parent for h in hrefs] for hrefs in rows]
    assert targets == [[runs["warped"].resolve()], [other.resolve()]]


def test_leaderboard_main_writes_html(runs, tmp_path):
    from spf_bench.bench.views.leaderboard import main

    out = tmp_path / "lb" / "leaderboard.csv"
    assert (
        main([str(runs["warped"]), str(runs["none"]), "--out", str(out), "--resamples", "99"]) == 0
    )
    html = out.with_suffix(".html")
    assert html.is_file() and out.with_suffix(".md").is_file()
    assert all(any(h.endswith(REPORT_NAME) for h in row) for row in _parse(html).rows)


# ---------------------------------------------------------------------------------- browser
def test_report_in_headless_chromium(browser, runs, tmp_path):  # browser first: skip early
    rd = tmp_path / "run"
    shutil.copytree(runs["warped"], rd)
    write_report(rd, page_size=1)  # two pages: the overview + item 1, then item 2
    pages = _pages(rd)
    assert len(pages) == 2
    counts = [_check_page_in_browser(browser, p) for p in pages]
    assert counts[0]["videos"] == 2 and counts[1]["videos"] == 2
    assert all(c["images"] >= 4 for c in counts)
    # the items index sorts numerically when its header is clicked
    browser.get(pages[0].resolve().as_uri())
    col = browser.execute_script(
        "const t = document.querySelector('table.sortable');"
        "const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent === "
        "'baseline Linearity'); t.tHead.rows[0].cells[i].click(); return i"
    )
    vals = browser.execute_script(
        "return Array.from(document.querySelector('table.sortable').tBodies[0].rows)"
        ".map(r => parseFloat(r.cells[arguments[0]].getAttribute('data-v')))",
        col,
    )
    assert vals == sorted(vals) and len(vals) == 2
    assert not _severe(browser)


def test_leaderboard_in_headless_chromium(browser, runs, tmp_path):
    path = _leaderboard(runs, tmp_path / "results" / "leaderboard.html")
    counts = _check_page_in_browser(browser, path, play=False)
    assert counts["refs"] >= 2
    for header in ("retime", "Linearity (mean ± std)"):
        order = browser.execute_script(
            "const t = document.querySelector('table.sortable');"
            "const h = Array.from(t.tHead.rows[0].cells).find(c => c.textContent === arguments[0]);"
            "h.click(); h.click();"  # descending
            "return Array.from(t.tBodies[0].rows).map(r => r.cells[1].textContent)",
            header,
        )
        assert sorted(order) == ["none", "warped"]
        if header == "retime":
            assert order == ["warped", "none"]
    assert not _severe(browser)
