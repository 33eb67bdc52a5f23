"""The report page rendered in headless Chromium (Debian's chromium + chromium-driver), from disk.

The full page comes from a reduced demo run (tests/report/conftest.py); the partial page from the same
workdir after curate only. Screenshots go to $AUTOMIXER_REPORT_SHOTS when set (to look at them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from report_browser import find_chromium, render

from curation.pii import EMAIL_RE

pytest.importorskip("selenium")
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium and chromium-driver "
                                                          "(apt-get install -y chromium chromium-driver)")

HEADINGS = ["Sources and curation", "Dedup", "Synthetic data", "The swarm", "Mixtures of data experts",
            "Surrogates", "The mixture", "Validation", "Provenance"]


def _save_shot(name: str, png: bytes) -> None:
    folder = os.environ.get("AUTOMIXER_REPORT_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(png)


def _check_page(page: Path, shot: str):
    seen = render(page, *CHROMIUM)
    _save_shot(shot, seen.screenshot)
    assert seen.title == "AutoMixer run report"
    assert seen.headings == HEADINGS
    for img in seen.images:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img
        assert not re.match(r"^[a-z]+://|^/", img["src"]), f"image path is not relative: {img['src']}"
    assert [e for e in seen.console if e["level"] in ("SEVERE", "WARNING")] == []
    assert len(seen.screenshot) > 10_000
    return seen


def test_full_run_page_renders_every_section_with_its_figures(small_run):
    from automixer.cli import main

    config_path, _, workdir = small_run
    assert main(["report", str(config_path)]) == 0
    page = workdir / "report" / "index.html"
    seen = _check_page(page, "report_full.png")
    names = {img["src"] for img in seen.images}
    assert {"quality_scores.png", "dedup_removal.png", "synth_tokens.png", "swarm_mixtures.png",
            "cv_predicted_vs_measured.png", "influence.png", "mixture.png", "validation.png",
            "scale_up.png"} <= names
    html = page.read_text(encoding="utf-8")
    assert "Not run yet" not in html
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert not EMAIL_RE.search(html), "an e-mail address reached the page unmasked"


def test_curate_only_page_shows_curation_and_names_what_has_not_run(small_run):
    config_path, partial, _ = small_run
    seen = _check_page(partial / "index.html", "report_partial.png")
    assert [img["src"] for img in seen.images] == ["quality_scores.png"]
    html = (partial / "index.html").read_text(encoding="utf-8")
    for command in ("dedup", "synth", "sweep", "fit", "optimize"):
        assert f"Run <code>automixer {command} {config_path}" in html
    assert html.count('class="notrun"') == 7  # dedup, synth, swarm, experts, surrogates, mixture, validation
