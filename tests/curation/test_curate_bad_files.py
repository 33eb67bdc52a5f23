"""curate through the CLI when some input files yield no valid document (issue 27.2), and a kill during
the prefilter step (27.5): bad files are quarantined with a reason, the other sources go on, the ledger
adds up, and a re-run after a kill redoes only the units that had not finished."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automixer import cli
from automixer.catalog import Catalog
from automixer.flows import curate as curate_flow
from dataplane.store import StageStore

WORDS = "the a of data model quality reading water river house city people time year work school system study".split()
BAD_FILES = {  # source -> (file name, expected quarantine reason category, rows)
    "empties": ("empty_texts.jsonl", "empty", 5),
    "notext": ("notext.parquet", "missing_text", 3),
    "inttext": ("inttext.parquet", "non_string_text", 3),
    "corrupt": ("corrupt.parquet", "unreadable", 1),
    "fake": ("fake.parquet", "unreadable", 1),
    "badzst": ("bad.jsonl.zst", "unreadable", 1),
}


def _write_sources(folder: Path) -> None:
    rng = random.Random(0)

    def doc(i: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(60)) + f" doc{i}."

    for name, offset in (("good", 0), ("ref", 100)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps({"text": doc(offset + i)}) + "\n" for i in range(30)))
    (folder / "empty_texts.jsonl").write_text('{"text": ""}\n' * 4 + '{"text": "   "}\n')
    pq.write_table(pa.table({"body": ["no text column"] * 3}), folder / "notext.parquet")
    pq.write_table(pa.table({"text": [1, 2, 3]}), folder / "inttext.parquet")
    (folder / "corrupt.parquet").write_bytes((folder / "notext.parquet").read_bytes()[:40])
    (folder / "fake.parquet").write_text("this is not a parquet file\n")
    (folder / "bad.jsonl.zst").write_bytes(b"not zstd at all")


def _config(folder: Path, workdir: Path) -> Path:
    lines = [f"workdir: {workdir}", "ray: {num_cpus: 2}", "sources:",
             f"  - {{name: good, paths: [{folder / 'good.jsonl'}]}}",
             f"  - {{name: ref, paths: [{folder / 'ref.jsonl'}], reference: true}}"]
    for source, (name, _, _) in BAD_FILES.items():
        fmt = "parquet" if name.endswith(".parquet") else "jsonl"
        lines.append(f"  - {{name: {source}, paths: [{folder / name}], format: {fmt}}}")
    lines += ["curation:", "  prose: {min_words: 5}", "  tokenizer: {vocab_size: 300}"]
    path = workdir.parent / f"{workdir.name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ledger(workdir: Path) -> dict[tuple, int]:
    with Catalog(workdir, read_only=True) as catalog:
        rows = catalog.query("SELECT source, outcome, sum(docs) AS n FROM ledger WHERE stage = 'curate' "
                             "AND outcome IN ('in', 'kept', 'filtered', 'quarantined') GROUP BY ALL").to_pylist()
    return {(r["source"], r["outcome"]): int(r["n"]) for r in rows}


@pytest.fixture(scope="module")
def curated(ray_local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_files")
    _write_sources(tmp)
    config = _config(tmp, tmp / "w1")
    assert cli.main(["curate", str(config)]) == 0
    return tmp, tmp / "w1"


def test_bad_files_are_quarantined_and_the_ledger_adds_up(curated):
    _, workdir = curated
    ledger = _ledger(workdir)
    for source in ("good", "ref", *BAD_FILES):
        parts = sum(ledger.get((source, k), 0) for k in ("kept", "filtered", "quarantined"))
        assert ledger[(source, "in")] == parts, source
    assert ledger[("good", "in")] == 30 and ledger.get(("good", "kept"), 0) > 0
    for source, (_, _, rows) in BAD_FILES.items():
        assert ledger[(source, "quarantined")] == rows, source


def test_quarantine_rows_say_why(curated):
    _, workdir = curated
    with Catalog(workdir, read_only=True) as catalog:
        rows = catalog.query("SELECT source, path, reason FROM curate_quarantine").to_pylist()
    reasons = {r["source"]: r["reason"] for r in rows}
    for source, (name, category, _) in BAD_FILES.items():
        assert reasons[source].split(":")[0] == category, reasons[source]
    assert "no column 'text' (columns: body)" in reasons["notext"]
    assert "ZstdError" in reasons["badzst"] and "ArrowInvalid" in reasons["fake"]
    assert {Path(r["path"]).name for r in rows if r["source"] == "corrupt"} == {"corrupt.parquet"}


class Killed(Exception):
    """Stands in for a kill of the driver while prefilter tasks are still running."""


def test_a_kill_during_prefilter_keeps_the_finished_units(curated, monkeypatch, capsys):
    tmp, single_run = curated
    config = _config(tmp, tmp / "w2")
    real = curate_flow.ray_iter_rows

    def killed_after_one_unit(fn, rows, **kwargs):
        results = real(fn, rows, **kwargs)
        yield next(results)
        raise Killed

    monkeypatch.setattr(curate_flow, "ray_iter_rows", killed_after_one_unit)
    with pytest.raises(Killed):
        cli.main(["curate", str(config)])
    assert len(StageStore(tmp / "w2", curate_flow.STAGING).done_units()) == 1
    monkeypatch.setattr(curate_flow, "ray_iter_rows", real)
    capsys.readouterr()
    assert cli.main(["curate", str(config)]) == 0
    units = 2 + len(BAD_FILES)
    assert f"prefilter: {units - 1} of {units} units to do" in capsys.readouterr().out
    assert _ledger(tmp / "w2") == _ledger(single_run)
