"""A real two-node local Ray cluster (``ray start --head`` plus ``ray start --address``) runs a stage.

The cluster runs in its own process groups and is torn down by killing them, never by ``ray stop``
(which would also stop other Ray instances on the machine).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], tmp: Path, name: str, env: dict) -> subprocess.Popen:
    log = open(tmp / f"{name}.log", "w")
    return subprocess.Popen([RAY, "start", "--block", *args], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def two_node_cluster(tmp_path):
    """(address, env): a head and a worker node with their own auth token; clients run with env."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=uuid.uuid4().hex,
               PYTHONPATH=str(REPO))  # the nodes' workers import this checkout's code
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    head = _start(["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                   "--disable-usage-stats"], tmp_path, "head", env)
    procs = [head]
    try:
        time.sleep(3)
        procs.append(_start([f"--address={address}", "--num-cpus=1"], tmp_path, "worker", env))
        deadline = time.time() + 150
        while time.time() < deadline:
            out = subprocess.run([sys.executable, "-c",
                                  f"import ray; ray.init(address='{address}', logging_level='ERROR');"
                                  "print(sum(n['Alive'] for n in ray.nodes()))"],
                                 capture_output=True, text=True, env=env)
            if out.stdout.strip().endswith("2"):
                break
            time.sleep(2)
        else:
            logs = "".join((tmp_path / f"{n}.log").read_text()[-1500:] for n in ("head", "worker"))
            pytest.fail("the two-node cluster did not come up: " + logs + out.stdout + out.stderr[-1500:])
        yield address, env
    finally:
        for proc in reversed(procs):
            _stop(proc)


STAGE_SCRIPT = """
import sys, ray, pyarrow as pa
from dataplane import schema
from automixer.runtime import RuntimeConfig, init_ray

init_ray(RuntimeConfig(), address=sys.argv[1])
assert len([n for n in ray.nodes() if n["Alive"]]) == 2

def conform_stage(batch):
    import time
    time.sleep(0.5)  # long enough that both single-CPU nodes take blocks
    table = schema.conform(pa.table({"text": batch["text"], "source": ["s"] * len(batch["text"]),
                                     "domain": ["web"] * len(batch["text"])}))
    node = ray.get_runtime_context().get_node_id()
    return table.append_column("node", pa.array([node] * table.num_rows))

texts = [f"document number {i}" for i in range(400)]
ds = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=8)
out = ds.map_batches(conform_stage, batch_format="pyarrow", batch_size=50).materialize()
rows = out.take_all()
assert sorted(r["doc_id"] for r in rows) == sorted(schema.doc_id_for(t) for t in texts)
print("NODES", len({r["node"] for r in rows}))
"""


@pytest.mark.timeout(300)
def test_stage_runs_on_two_node_cluster(two_node_cluster):
    address, env = two_node_cluster
    out = subprocess.run([sys.executable, "-c", STAGE_SCRIPT, address], cwd=REPO,
                         capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "NODES" in out.stdout
    nodes = int(out.stdout.split("NODES")[1].split()[0])
    assert nodes == 2, "the stage's blocks should run on both nodes"


@pytest.mark.timeout(400)
def test_curate_runs_through_the_cluster_and_stats_answer(two_node_cluster, tmp_path):
    """The real curate stage joins the cluster with --ray-address; the catalog then answers stats."""
    from automixer.catalog import Catalog
    from automixer.demo_data import build_demo_data

    build_demo_data(tmp_path / "src", max_modules=30, num_math=60)
    config = tmp_path / "run.yaml"
    config.write_text(
        f"workdir: {tmp_path / 'work'}\n"
        "sources:\n"
        f"  - {{name: code, paths: ['{tmp_path}/src/stdlib_code'], format: text, domain: code}}\n"
        f"  - {{name: reference, paths: ['{tmp_path}/src/python_reference.jsonl'], domain: stem, reference: true}}\n"
        f"  - {{name: math, paths: ['{tmp_path}/src/math_problems.jsonl'], domain: math}}\n"
        "curation: {num_buckets: 2, keep_fractions: [1.0, 1.0], tokenizer: {vocab_size: 512}}\n"
    )
    address, env = two_node_cluster
    automixer = str(Path(sys.executable).parent / "automixer")
    run = subprocess.run([automixer, "curate", str(config), "--ray-address", address],
                         capture_output=True, text=True, timeout=360, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = subprocess.run([automixer, "stats", "-c", str(config), "--by", "source"],
                           capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0, stats.stderr
    assert {"code", "reference", "math"} <= set(stats.stdout.split())
    with Catalog(tmp_path / "work", read_only=True) as catalog:
        rows = catalog.query(
            "SELECT source, sum(docs) FILTER (WHERE outcome='in') AS n_in, "
            "sum(docs) FILTER (WHERE outcome IN ('kept','filtered','quarantined')) AS n_out "
            "FROM ledger WHERE stage='curate' GROUP BY source").to_pylist()
    assert len(rows) == 3
    assert all(r["n_in"] == r["n_out"] and r["n_in"] > 0 for r in rows)


def _dedup_docs(n_shards: int = 3) -> list:
    """Curate-like shards of random-word documents with exact copies, near copies and a large group."""
    import random

    import pyarrow as pa

    from dataplane.schema import conform

    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    base = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(150)]

    def edit(text: str, seed: int) -> str:
        r = random.Random(seed)
        tokens = text.split()
        tokens[r.randrange(len(tokens))] = r.choice(words)
        return " ".join(tokens)

    texts = base + [edit(b, i) for i, b in enumerate(base[:50])] + base[:10]
    texts += [edit(base[7], 1000 + i) for i in range(60)]
    rng.shuffle(texts)
    shards = []
    for s in range(n_shards):
        part = texts[s::n_shards]
        shards.append(
            conform(
                pa.table(
                    {
                        "text": part,
                        "source": [f"s{s}"] * len(part),
                        "domain": ["web"] * len(part),
                        "quality_score": [rng.random() for _ in part],
                    }
                )
            )
        )
    return shards


@pytest.mark.timeout(400)
def test_dedup_runs_through_the_cluster_and_matches_the_local_path(two_node_cluster, tmp_path):
    """``automixer dedup CONFIG --ray-address`` runs the chain's tasks on the cluster.

    Its clusters equal the local path's."""
    import pyarrow as pa

    from dataplane.store import StageStore, write_parquet
    from dedup.config import DedupConfig
    from dedup.local import dedup_table

    work = tmp_path / "work"
    shards = _dedup_docs()
    curate = StageStore(work, "curate")
    paths = {f"web_{i}": write_parquet(curate.shard_path("kept", f"web_{i}"), t) for i, t in enumerate(shards)}
    curate.mark_many_done({n: ({"kept": [p]}, {}) for n, p in paths.items()})
    config = tmp_path / "run.yaml"
    config.write_text(f"workdir: {work}\ndedup: {{threshold: 0.8, docs_per_partition: 100}}\n")
    address, env = two_node_cluster
    run = subprocess.run(
        [sys.executable, "-m", "automixer.cli", "dedup", str(config), "--ray-address", address],
        capture_output=True,
        text=True,
        timeout=360,
        env=env,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "partition(s)" in run.stdout
    dedup = StageStore(work, "dedup")
    cluster = pa.concat_tables([dedup.read("kept"), dedup.read("duplicates")])
    on_cluster = dict(zip(cluster.column("doc_id").to_pylist(), cluster.column("dup_cluster").to_pylist()))
    local = dedup_table(pa.concat_tables(shards), DedupConfig(threshold=0.8))
    in_process = dict(zip(local.column("doc_id").to_pylist(), local.column("dup_cluster").to_pylist()))
    assert on_cluster == in_process
    assert sum(k != v for k, v in in_process.items()) >= 60
