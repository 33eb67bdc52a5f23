"""Dedup benchmark on real text: a scale curve of the whole command, and rensa / datasketch side by side.

Corpus (built here, cached under --workdir): real documents from ../shared/corpora (web, news, forum,
government pages, PubMed and SciTLDR abstracts, WikiText articles, GSM8K and MATH solutions), exact
duplicates removed, cut at 300 words. Beyond the real documents, each one yields many *variants*
(half of its words replaced from the corpus vocabulary: Jaccard about 0.03, so not duplicates) until
the size is reached. A third of all documents then get one *edited copy*, made by a known edit (word
insertions, deletions, substitutions, reordered paragraphs, boilerplate) of a random size; its exact
Jaccard (5-word shingles) with its source is recorded. Ground truth: a pair is a duplicate when its
exact Jaccard is >= the threshold (0.8). Recall is measured on the recorded pairs; every predicted
pair (two documents in one cluster; up to --score-pairs of them, sampled) is checked by exact Jaccard
for precision, and counts as a positive for recall too when it reaches the threshold.

Scale curve, per size: ``automixer dedup --input docs.jsonl --output DIR --threshold 0.8`` in a fresh
process (docs/s of the whole command, reading and writing included, by wall time and by the command's CPU
time, which other work on a shared machine disturbs less); peak RSS (VmHWM) of the driver
and of its largest descendant process, polled from /proc.

Side by side, at --compare-size, each method in a fresh process, median of --repeats runs (rounds
interleave the methods, so load from other work falls on all alike), one core, wall and CPU docs/s:
the chain in process (dedup.local.dedup_table: signatures, LSH, verification, clusters, keepers), rensa
(RMinHash + RMinHashLSH with 16 bands, then union-find clusters and keepers) and a plain datasketch loop
(MinHash.update per shingle, MinHashLSH insert and query per document, union-find). All get the same
normalised 5-word shingles (rensa and datasketch as strings).

Run: nice -n 19 .venv/bin/python benchmarks/bench_dedup.py [--sizes 30000,300000,1000000]
     [--compare-size 30000] [--repeats 3] [--workdir /tmp/bench_dedup]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CORPORA = REPO.parent / "shared" / "corpora"
EDITS = ("insert", "delete", "substitute", "reorder", "boilerplate")
BOILERPLATE = (
    "Subscribe to our newsletter for the latest updates. We use cookies to improve your experience on "
    "our site. By continuing to browse you agree to our privacy policy and terms of service. Share this "
    "article on Facebook Twitter LinkedIn or by email. All rights reserved. Contact us advertise with us "
    "careers sitemap accessibility help center related stories most popular trending now sign in register"
).split()
SOURCES = {
    "web_ud_ewt/ewt_docs.jsonl.gz": lambda r: r["text"],
    "web_news_articles/news_articles.jsonl.gz": lambda r: r["text"],
    "web_core_registers/core_en_docs.jsonl.gz": lambda r: r["text"],
    "web_gov_blogs/digitalgov_pages.jsonl.gz": lambda r: r["text"],
    "web_gov_blogs/18f_pages.jsonl.gz": lambda r: r["text"],
    "web_dclm_annotated/dclm_annotated_docs.jsonl.gz": lambda r: r["text"],
    "forum_stackexchange_everyday/se_coffee_beer_threads.jsonl.gz": lambda r: r["text"],
    "pubmedqa/pubmedqa_pqal.jsonl.gz": lambda r: "\n\n".join(r["CONTEXTS"] + [r["LONG_ANSWER"]]),
    "scitldr/scitldr_A_train.jsonl.gz": lambda r: " ".join(r["source"]),
    "wikitext2/wikitext2_articles.jsonl.gz": lambda r: r["text"],
    "gsm8k/gsm8k_train.jsonl.gz": lambda r: r["question"] + "\n\n" + r["answer"],
    "math_competition/math_test.jsonl.gz": lambda r: r["context"] + "\n\n" + r["chain_of_thought"],
}


# --- corpus -------------------------------------------------------------------------------------------
def load_originals(max_words: int = 300) -> list[str]:
    """Real documents of 40+ words, cut at ``max_words``, exact duplicates removed, in a fixed order."""
    from dedup.shingles import normalize

    seen, out = set(), []
    for name, text_of in SOURCES.items():
        path = CORPORA / name
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                text = " ".join(text_of(json.loads(line)).split(" ")[:max_words])
                key = normalize(text)
                if len(key.split()) >= 40 and key not in seen:
                    seen.add(key)
                    out.append(text)
    random.Random(0).shuffle(out)
    return out


def shingle_set(text: str) -> set:
    from dedup.shingles import normalize, shingles

    return set(shingles(normalize(text), 5))


def jaccard(a: str, b: str) -> float:
    sa, sb = shingle_set(a), shingle_set(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def apply_edit(text: str, kind: str, n: int, rng: random.Random, vocab: list[str]) -> str:
    words = text.split(" ")
    if kind == "reorder":
        parts = [p for p in text.split("\n\n") if p.strip()]
        if len(parts) < 3:
            parts = [" ".join(words[i : i + 25]) for i in range(0, len(words), 25)]
        rng.shuffle(parts)
        words = "\n\n".join(parts).split(" ")
        kind = "substitute"
    if kind == "boilerplate":
        extra = (BOILERPLATE * (n // len(BOILERPLATE) + 1))[:n]
        return " ".join(extra + words) if rng.random() < 0.5 else " ".join(words + extra)
    for _ in range(n):
        pos = rng.randrange(len(words))
        if kind == "insert":
            words.insert(pos, rng.choice(vocab))
        elif kind == "delete" and len(words) > 10:
            del words[pos]
        elif kind == "substitute":
            words[pos] = rng.choice(vocab)
    return " ".join(words)


def variant(text: str, rng: random.Random, vocab: list[str]) -> str:
    """Half of the words replaced: a new document, far below any duplicate threshold."""
    return " ".join(rng.choice(vocab) if rng.random() < 0.5 else w for w in text.split(" "))


def build(size: int, path: Path) -> list[tuple[int, int, float]]:
    """Write ``size`` documents to ``path`` (JSONL: id, text); return (source id, copy id, exact Jaccard)."""
    originals = load_originals()
    vocab = [w for t in originals[:500] for w in t.split()]
    rng = random.Random(1)
    n_copies = size // 3
    n_bases = size - n_copies
    truth, ids = [], list(range(size))
    rng.shuffle(ids)  # copies are not next to their sources
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        copy_of = set(rng.sample(range(n_bases), n_copies))
        for i in range(n_bases):
            base = originals[i] if i < len(originals) else variant(originals[i % len(originals)], rng, vocab)
            fh.write(json.dumps({"id": ids[i], "text": base}) + "\n")
            if i in copy_of:
                k = len(truth)
                kind = EDITS[k % len(EDITS)]
                n_edits = max(1, int(len(base.split(" ")) * rng.choice((0.01, 0.02, 0.03, 0.05, 0.08, 0.12))))
                copy = apply_edit(base, kind, n_edits, random.Random(k), vocab)
                j = ids[n_bases + k]
                fh.write(json.dumps({"id": j, "text": copy}) + "\n")
                truth.append((ids[i], j, jaccard(base, copy)))
    tmp.rename(path)
    return truth


def corpus(size: int, workdir: Path) -> tuple[Path, list]:
    path, truth_path = workdir / f"docs-{size}.jsonl", workdir / f"truth-{size}.json"
    if not (path.exists() and truth_path.exists()):
        t0 = time.perf_counter()
        truth = build(size, path)
        truth_path.write_text(json.dumps(truth))
        print(f"  built {size} documents ({len(truth)} edited copies) in {time.perf_counter() - t0:.0f}s", flush=True)
    return path, json.loads(truth_path.read_text())


def read_texts(path: Path) -> tuple[list, list[str]]:
    ids, texts = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            ids.append(row["id"])
            texts.append(row["text"])
    return ids, texts


# --- scoring ------------------------------------------------------------------------------------------
def cluster_pairs(ids: list, cluster: list) -> set[tuple]:
    by: dict = {}
    for i, c in zip(ids, cluster):
        by.setdefault(c, []).append(i)
    return {(min(a, b), max(a, b)) for m in by.values() for k, a in enumerate(m) for b in m[k + 1 :]}


def score(pairs: set, truth: list, text_of: dict, threshold: float, limit: int) -> tuple[float, float, int]:
    """(precision, recall, predicted pairs); precision on a sample of ``limit`` predicted pairs."""
    sampled = sorted(pairs)
    if len(sampled) > limit:
        sampled = random.Random(3).sample(sampled, limit)
    checked = {p: jaccard(text_of[p[0]], text_of[p[1]]) >= threshold for p in sampled}
    true_pairs = {(min(a, b), max(a, b)) for a, b, j in truth if j >= threshold}
    tp = sum(checked.values())
    positives = true_pairs | {p for p, ok in checked.items() if ok}
    found = sum(p in pairs for p in positives)
    return (tp / len(sampled) if sampled else 1.0), (found / len(positives) if positives else 1.0), len(pairs)


# --- the whole command with memory polling --------------------------------------------------------------
def _status(pid: int) -> tuple[int, int]:
    """(parent pid, VmHWM in kB) of a process, or (-1, 0) when gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        return int(fields["PPid"]), int(fields.get("VmHWM", "0 kB").split()[0])
    except (OSError, KeyError, ValueError):
        return -1, 0


def run_command(args: list[str]) -> tuple[float, float, float, float, str]:
    """(seconds, CPU seconds, driver peak RSS MB, largest descendant peak RSS MB, output) of a command."""
    import resource

    start = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = usage.ru_utime + usage.ru_stime
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                parents[int(entry)] = _status(int(entry))
        family, grew = {proc.pid}, True
        while grew:
            new = {p for p, (pp, _) in parents.items() if pp in family} - family
            family |= new
            grew = bool(new)
        for pid in family:
            peaks[pid] = max(peaks.get(pid, 0), parents.get(pid, (0, 0))[1])
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = proc.stdout.read()
    driver = peaks.pop(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    return seconds, cpu, driver / 1024, (max(peaks.values()) / 1024 if peaks else 0.0), output


def scale_point(size: int, workdir: Path, threshold: float, score_pairs: int) -> None:
    import pyarrow.parquet as pq

    path, truth = corpus(size, workdir)
    out_dir = workdir / f"out-{size}"
    cmd = [
        sys.executable,
        "-m",
        "automixer.cli",
        "dedup",
        "--input",
        str(path),
        "--output",
        str(out_dir),
        "--threshold",
        str(threshold),
    ]
    seconds, cpu, driver_mb, worker_mb, output = run_command(cmd)
    if "dedup:" not in output:
        print(output[-3000:])
        raise SystemExit(f"the dedup command failed at {size} documents")
    out = pq.read_table(out_dir / "dedup.parquet", columns=["id", "dup_cluster"])
    ids = [int(i) for i in out.column("id").to_pylist()]
    pairs = cluster_pairs(ids, out.column("dup_cluster").to_pylist())
    needed = {i for p in pairs for i in p} | {i for a, b, _ in truth for i in (a, b)}
    all_ids, texts = read_texts(path)
    text_of = {i: t for i, t in zip(all_ids, texts) if i in needed}
    p, r, n = score(pairs, truth, text_of, threshold, score_pairs)
    worker = f"{worker_mb:8.0f}" if worker_mb else "       -"
    print(
        f"{size:>9d} {seconds:8.1f} {size / seconds:8.0f} {size / cpu:10.0f} {driver_mb:10.0f} {worker:>9s} "
        f"{p:9.4f} {r:7.4f} {n:8d}",
        flush=True,
    )


# --- side by side, each in a fresh process ----------------------------------------------------------
def _union_find_keepers(n: int, pairs) -> list[int]:
    """Cluster id (smallest member) of each of n documents from candidate pairs."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def worker(method: str, path: Path, threshold: float) -> dict:
    """Time one method on the documents of ``path`` (reading excluded); return seconds and clusters."""
    _, texts = read_texts(path)
    start, cpu = time.perf_counter(), time.process_time()
    if method == "automixer":
        import pyarrow as pa

        from dedup.config import DedupConfig
        from dedup.local import dedup_table

        out = dedup_table(pa.table({"text": texts}), DedupConfig(threshold=threshold))
        cluster = out.column("dup_cluster").to_pylist()
    else:
        from dedup.shingles import normalize, shingles

        sets = ([s.decode() for s in shingles(normalize(t), 5)] for t in texts)
        pairs = []
        if method == "rensa":
            from rensa import RMinHash, RMinHashLSH

            lsh = RMinHashLSH(threshold=threshold, num_perm=128, num_bands=16)
            for i, items in enumerate(sets):
                m = RMinHash(num_perm=128, seed=1)
                m.update(items)
                pairs.extend((j, i) for j in lsh.query(m))
                lsh.insert(i, m)
        else:
            from datasketch import MinHash, MinHashLSH

            lsh = MinHashLSH(threshold=threshold, num_perm=128)
            for i, items in enumerate(sets):
                m = MinHash(num_perm=128, seed=1)
                for s in items:
                    m.update(s.encode())
                pairs.extend((j, i) for j in lsh.query(m))
                lsh.insert(i, m)
        cluster = _union_find_keepers(len(texts), pairs)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "cluster": cluster}


def compare(size: int, workdir: Path, threshold: float, repeats: int, score_pairs: int, methods: list[str]) -> None:
    """Each method ``repeats`` times in a fresh process; rounds interleave the methods, so that load from
    other work on the machine falls on all of them alike. Wall and CPU docs/s, median of the runs."""
    path, truth = corpus(size, workdir)
    ids, texts = read_texts(path)
    text_of = dict(zip(ids, texts))
    runs: dict[str, list] = {m: [] for m in methods}
    last: dict[str, dict] = {}
    for _ in range(repeats):
        for method in methods:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", method, "--input", str(path), "--threshold", str(threshold)],
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            if out.returncode != 0:
                print(f"{method}: failed: {out.stderr[-800:]}")
                continue
            last[method] = json.loads(out.stdout.splitlines()[-1])
            runs[method].append((last[method]["seconds"], last[method]["cpu"]))
    print(f"\nside by side on {size} documents, each run in a fresh process, median of {repeats} (rounds interleaved):")
    print(
        f"{'method':12s} {'docs/s':>8s} {'docs/cpu-s':>10s} {'wall runs (s)':>22s} "
        f"{'precision':>9s} {'recall':>7s} {'pairs':>7s}"
    )
    for method in methods:
        if not runs[method]:
            continue
        p, r, n = score(cluster_pairs(ids, last[method]["cluster"]), truth, text_of, threshold, score_pairs)
        wall = statistics.median(w for w, _ in runs[method])
        cpu = statistics.median(c for _, c in runs[method])
        listed = " ".join(f"{w:.1f}" for w, _ in runs[method])
        print(f"{method:12s} {size / wall:8.0f} {size / cpu:10.0f} {listed:>22s} {p:9.4f} {r:7.4f} {n:7d}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="30000,300000,1000000", help="comma-separated corpus sizes of the scale curve"
    )
    parser.add_argument("--compare-size", type=int, default=30000, help="size of the side-by-side run (0: skip)")
    parser.add_argument("--methods", default="automixer,rensa,datasketch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--score-pairs", type=int, default=20000, help="predicted pairs checked for precision")
    parser.add_argument("--workdir", default="/tmp/bench_dedup")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.input), args.threshold)))
        return 0
    if not CORPORA.is_dir():
        print(f"corpora not found at {CORPORA}; skipping")
        return 0
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        print(
            "scale curve: automixer dedup --input docs.jsonl --output DIR --threshold "
            f"{args.threshold} (one fresh process per size)"
        )
        print(
            f"{'documents':>9s} {'seconds':>8s} {'docs/s':>8s} {'docs/cpu-s':>10s} "
            f"{'driver MB':>10s} {'worker MB':>9s} "
            f"{'precision':>9s} {'recall':>7s} {'pairs':>8s}",
            flush=True,
        )
        for size in sizes:
            scale_point(size, workdir, args.threshold, args.score_pairs)
    if args.compare_size:
        compare(args.compare_size, workdir, args.threshold, args.repeats, args.score_pairs, args.methods.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
