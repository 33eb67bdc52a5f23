"""A sweep whose driver process is killed (SIGKILL, no clean-up) resumes when the command is run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from tiny_workdir import tiny_config

from automixer.typed_yaml import to_plain

AUTOMIXER = str(Path(sys.executable).parent / "automixer")


def _finished(manifest: Path) -> dict:
    if not manifest.exists():
        return {}
    return json.loads(manifest.read_text())["units"]


@pytest.mark.timeout(400)
def test_sweep_killed_mid_way_resumes_without_retraining(tiny, tmp_path):
    config, eval_files = tiny
    plain = to_plain(tiny_config(config.workdir_path, eval_files, num_proxies=6, seed_repeats=0))
    plain["proxy"]["train"]["steps"] = 60  # a few seconds per proxy: time to kill between two of them
    plain["ray"]["num_cpus"] = 1  # one proxy at a time
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(plain))
    manifest = config.workdir_path / "sweep" / "_manifest.json"

    proc = subprocess.Popen([AUTOMIXER, "sweep", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not _finished(manifest) and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its local Ray, mid-sweep
    proc.wait()
    before = _finished(manifest)
    assert 1 <= len(before) < 6, "the kill should land after the first proxy and before the last"
    rows_before = {u: pq.read_table(manifest.parent / e["files"]["runs"][0]).to_pylist()[0]
                   for u, e in before.items() if "runs" in e["files"]}

    rerun = subprocess.run([AUTOMIXER, "sweep", str(path)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"({len(before)} already finished)" in rerun.stdout
    runs = {r["run_id"]: r for r in pq.read_table(config.workdir_path / "sweep" / "runs.parquet").to_pylist()}
    assert len(runs) == 6 and all(r["status"] == "ok" for r in runs.values())
    for row in rows_before.values():  # finished proxies were not retrained: same wall time, same weights
        assert runs[row["run_id"]]["wall_s"] == row["wall_s"]
        assert runs[row["run_id"]]["weights_sha256"] == row["weights_sha256"]
