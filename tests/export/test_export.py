"""automixer export: the manifest's counts, max_epochs, bad inputs, the CLI on Ray, and resuming after SIGKILL."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from export_fixtures import WEIGHTS

from automixer import cli
from automixer.export.tokenizer import load_full_tokenizer
from automixer.flows.export import run_export
from automixer.mixing.mixture import Mixture
from dataplane.errors import InputError, StageError

REPO = Path(__file__).resolve().parents[2]


def _digest(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_manifest_counts_both_tokenizers_and_every_document(exported_inputs, tmp_path):
    config, mixture_file, tokenizer_file = exported_inputs
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "export_manifest.json").read_text())
    components = json.loads((config.workdir_path / "components" / "components.json").read_text())
    for row in components:
        entry = manifest["components"][row["component"]]
        assert entry["docs"] == row["docs"] and entry["proxy_tokens"] == row["tokens"]
        assert entry["full_tokens"] == sum(p["tokens"] for p in entry["prefixes"])
        assert Path(entry["prefixes"][0]["prefix"] + ".bin").stat().st_size == 2 * entry["full_tokens"]  # uint16
    assert sum(e["full_share"] for e in manifest["components"].values()) == pytest.approx(1.0)


def test_a_component_read_more_than_max_epochs_is_an_error_naming_it(exported_inputs, tmp_path):
    config, mixture_file, tokenizer_file = exported_inputs
    mixture = Mixture.load(mixture_file)
    mixture.token_budget = 30_000  # about 5 epochs of code.q0 in the full run's tokens; max_epochs is 4
    mixture.save(mixture_file)
    with pytest.raises(InputError, match=r"mixture\.code\.q0: .* epochs .*optimize\.max_epochs=4"):
        run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out")


def test_tokenizer_without_eos_or_missing_is_a_clear_error(tmp_path):
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")).save(str(tmp_path / "t.json"))
    with pytest.raises(InputError, match="t.json: no end-of-text token"):
        load_full_tokenizer(str(tmp_path / "t.json"))
    with pytest.raises(InputError, match="nothere: tokenizer not found"):
        load_full_tokenizer(str(tmp_path / "nothere"))
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "tokenizer.json").write_bytes((tmp_path / "t.json").read_bytes())
    with pytest.raises(InputError, match="folder/tokenizer.json: no end-of-text token"):
        load_full_tokenizer(str(tmp_path / "folder"))


def test_a_changed_mixture_needs_force(exported_inputs, tmp_path):
    config, mixture_file, tokenizer_file = exported_inputs
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out")
    mixture = Mixture.load(mixture_file)
    mixture.weights = {c: 1 / len(WEIGHTS) for c in WEIGHTS}
    mixture.save(mixture_file)
    with pytest.raises(StageError, match="use --force"):
        run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out")
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out", force=True)


@pytest.mark.usefixtures("ray_local")
def test_cli_exports_on_ray_like_in_process_and_bad_input_exits_2(exported_inputs, tmp_path, capsys):
    config, mixture_file, tokenizer_file = exported_inputs
    config_file = tmp_path / "run.yaml"
    config_file.write_text(config.to_yaml())
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "local")
    args = ["export", str(config_file), "--mixture", str(mixture_file), "--tokenizer", str(tokenizer_file)]
    assert cli.main(args + ["--out", str(tmp_path / "ray")]) == 0
    assert "megatron_blend.txt" in capsys.readouterr().out
    local, ray = _digest(tmp_path / "local"), _digest(tmp_path / "ray")
    assert [k for k in local if k.endswith((".bin", ".idx"))] == [k for k in ray if k.endswith((".bin", ".idx"))]
    assert all(local[k] == ray[k] for k in local if k.endswith((".bin", ".idx")))
    assert cli.main(args[:3] + [str(tmp_path / "none.yaml"), args[4], str(tokenizer_file), "--out", "x"]) == 2
    assert "none.yaml: mixture file not found" in capsys.readouterr().err


_KILLED_RUN = """
import os, signal, sys
from megatron.core.datasets import indexed_dataset
from automixer.config import load_config
from automixer.flows.export import run_export
config_file, mixture, tokenizer, out = sys.argv[1:]
calls, finalize = [], indexed_dataset.IndexedDatasetBuilder.finalize
def dying_finalize(self, idx_path):  # the third unit dies with its .bin complete and its .idx half-written
    calls.append(idx_path)
    if len(calls) == 3:
        open(idx_path, "wb").write(b"half")
        os.kill(os.getpid(), signal.SIGKILL)
    finalize(self, idx_path)
indexed_dataset.IndexedDatasetBuilder.finalize = dying_finalize
run_export(load_config(config_file), mixture_file=mixture, tokenizer=tokenizer, out_dir=out)
"""


def test_export_killed_mid_unit_and_run_again_is_byte_identical(exported_inputs, tmp_path):
    config, mixture_file, tokenizer_file = exported_inputs
    config_file = tmp_path / "run.yaml"
    config_file.write_text(config.to_yaml())
    out = tmp_path / "out"
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=out)
    uninterrupted = _digest(out)
    shutil.rmtree(out)
    args = [str(config_file), str(mixture_file), str(tokenizer_file), str(out)]
    killed = subprocess.run([sys.executable, "-c", _KILLED_RUN, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (out / "export_manifest.json").exists()
    assert len(list(out.rglob("*.done.json"))) == 2 and len(list(out.rglob(".*.tmp*"))) == 2  # .bin and .idx
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=out)
    assert _digest(out) == uninterrupted


def test_a_pool_changed_since_the_sweep_is_an_error_naming_the_component(exported_inputs, tmp_path):
    import pyarrow.parquet as pq

    config, mixture_file, tokenizer_file = exported_inputs
    shard = Path(Mixture.load(mixture_file).shards["math.q0"][0]["path"])
    table = pq.read_table(shard)
    pq.write_table(table.slice(1), shard)  # the first document (math, bucket 0) is gone
    with pytest.raises(StageError, match=r"mixture\.math\.q0: the pool now holds 11 documents of it, .* 12"):
        run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "out")
