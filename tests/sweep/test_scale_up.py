"""optimize --validate's scale-up on the tiny workdir: larger models on four mixtures, two seeds each."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from automixer.catalog import Catalog
from automixer.flows import scale_up as scale_up_flow
from automixer.flows.fit import run_fit
from automixer.flows.optimize import run_optimize
from automixer.flows.sweep import run_sweep
from automixer.mixing.config import FitConfig, OptimizeConfig, ScaleUpConfig
from automixer.sweep import runner
from dataplane.errors import ConfigError


def _with_mixing(config, **scale_up):
    return dataclasses.replace(
        config, sweep=dataclasses.replace(config.sweep, num_proxies=5),
        fit=FitConfig(targets=("code_bpb", "math_acc"), candidates=("linear",), cv_folds=2),
        optimize=OptimizeConfig(objective={"code_bpb": 1.0, "math_acc": 1.0}, solver="random", random_samples=500,
                                trust_region=2.0, max_epochs=0.0, scale_up=ScaleUpConfig(**scale_up)))


def test_too_small_a_scale_up_is_a_config_error_naming_the_key(tiny):
    config = _with_mixing(tiny[0], d_model=32, n_layers=2, expert_hidden=32, steps=16)
    with pytest.raises(ConfigError, match=r"optimize.scale_up: the larger model has 1x the proxy's params .* at least "
                                          r"optimize.scale_up.min_ratio=4x"):
        scale_up_flow.check_size(config, vocab_size=400)
    assert scale_up_flow.check_size(_with_mixing(tiny[0]), vocab_size=400)["ratio"]["tokens"] == 4.0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_scale_up_trains_four_mixtures_twice_and_reports_against_the_seed_spread(tiny, monkeypatch):
    config = _with_mixing(tiny[0])
    work = config.workdir_path
    run_sweep(config)
    run_fit(config, runs_file=None, targets=None, out_dir=str(work / "surrogates"))
    run_optimize(config, surrogate_dir=str(work / "surrogates"), out_file=str(work / "mixture.yaml"), validate=True)

    with Catalog(work, read_only=True) as catalog:
        runs = catalog.query("SELECT * FROM scale_up_runs").to_pylist()
        proxy = catalog.query("SELECT max(n_params) AS p, max(tokens_seen) AS t FROM proxy_runs").to_pylist()[0]
    assert sorted((r["mixture"], r["seed"]) for r in runs) == sorted(
        (m, s) for m in ("optimized", "natural", "uniform", "best_sampled") for s in (0, 1))
    assert all(r["status"] == "ok" for r in runs)
    assert all(r["params"] >= 4 * proxy["p"] and r["tokens"] >= 4 * proxy["t"] for r in runs)
    for name in ("optimized", "natural"):  # the two seeds really differ
        assert len({r["weights_sha256"] for r in runs if r["mixture"] == name}) == 2

    scale = yaml.safe_load((work / "mixture.yaml").read_text())["validation"]["scale_up"]
    assert scale["size"]["ratio"]["params"] >= 4 and scale["size"]["ratio"]["tokens"] == 4
    code = scale["metrics"]["metric/code_bpb"]
    assert code["group"] == "code" and not code["higher_is_better"] and code["seed_spread"] > 0
    assert scale["metrics"]["metric/math_acc"]["higher_is_better"]
    assert set(code["beats"]) == {"natural", "best_sampled"} and set(scale["wins"]) == {"code", "math"}
    means = [r["metric/code_bpb"] for r in runs if r["mixture"] == "natural"]
    assert code["mixtures"]["natural"]["mean"] == pytest.approx(sum(means) / 2)
    assert any(line.startswith("scale-up code (code_bpb, lower is better): optimized") for line in scale["lines"])
    assert (work / "plots" / "transfer.png").stat().st_size > 0

    def no_training(*args, **kwargs):
        raise AssertionError("finished runs were trained again")
    monkeypatch.setattr(runner, "execute", no_training)
    run_optimize(config, surrogate_dir=str(work / "surrogates"), out_file=str(work / "mixture.yaml"), validate=True)
    assert yaml.safe_load((work / "mixture.yaml").read_text())["validation"]["scale_up"]["metrics"] == scale["metrics"]
