"""configs/real.yaml and configs/real-cpu.yaml: valid, consistent with their scale-up, all four groups evaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from automixer.config import load_config
from automixer.flows.scale_up import check_size

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/real.yaml", "configs/real-cpu.yaml", "configs/real-cpu-4x.yaml"]


@pytest.fixture(params=CONFIGS)
def config(request, monkeypatch):
    monkeypatch.chdir(REPO)  # corpus paths are relative to the repository root
    return load_config(request.param)


def test_token_budget_is_the_scale_up_token_count(config):
    size = check_size(config, vocab_size=config.curation.tokenizer.vocab_size + 1)
    assert config.optimize.token_budget == size["scale_up"]["tokens"]
    assert size["ratio"]["params"] >= 4 and size["ratio"]["tokens"] >= 4


def test_budget_is_feasible_under_the_epoch_cap(config):
    """The components hold ~11M tokens; max_epochs of them must cover the budget many times over."""
    assert config.optimize.max_epochs * 10_000_000 >= 2 * config.optimize.token_budget


def test_evaluation_covers_every_group_and_never_a_training_file(config):
    assert {e.group for e in config.sweep.eval} == {"code", "math", "stem", "commonsense"}
    training = {Path(p).resolve() for s in config.sources for p in s.paths}
    assert not training & {Path(e.path).resolve() for e in config.sweep.eval}
    assert config.sweep.decontam_ngram == 13


def test_cpu_config_runs_60_mixtures_and_6_seed_repeats():
    cfg = load_config(REPO / "configs/real-cpu.yaml")
    assert cfg.sweep.num_proxies == 60 and cfg.sweep.seed_repeats >= 6
    assert cfg.optimize.scale_up.seeds >= 2


@pytest.mark.skipif(not (REPO.parent / "shared" / "corpora").is_dir(), reason="../shared/corpora not present")
def test_every_corpus_file_exists(config):
    for path in [p for s in config.sources for p in s.paths] + [e.path for e in config.sweep.eval]:
        assert (REPO / path).is_file(), path
