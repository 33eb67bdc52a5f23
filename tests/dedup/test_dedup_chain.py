"""The cluster chain: large band groups checked in full, clusters independent of partitioning, components."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dedup_testdata import doc_table, make_doc, near_copy

from dedup.components import LABEL_SCHEMA, labels, star_round, write_edges
from dedup.config import DedupConfig
from dedup.groups import leader_edges
from dedup.local import dedup_table
from dedup.parts import read_part
from dedup.shingles import normalize_bytes
from dedup.sketch import shingle_hashes, sketch


def _clusters(out: pa.Table) -> set[frozenset]:
    by: dict = {}
    for doc, cluster in zip(out.column("doc_id").to_pylist(), out.column("dup_cluster").to_pylist()):
        by.setdefault(cluster, set()).add(doc)
    return {frozenset(m) for m in by.values() if len(m) > 1}


def _template_group(n_copies: int):
    """A chance member (first, smallest gid) and ``n_copies`` near copies of one template, with samples."""
    template = make_doc(100, 120)
    chance = " ".join(template.split()[:12]) + " " + make_doc(101, 110)  # a few shared shingles only
    texts = [chance] + [near_copy(template, 2, seed=i) for i in range(n_copies)]
    sig, values, offsets, _ = sketch(*shingle_hashes([normalize_bytes(t) for t in texts], 5), 128, 256)
    return texts, sig, values, offsets


def test_a_500_member_group_led_by_a_chance_collision_still_joins_every_true_near_duplicate():
    texts, sig, values, offsets = _template_group(499)
    gid = np.arange(500, dtype=np.int64) + 1000
    order = np.arange(500)
    edges, left = leader_edges(gid, values, offsets, 0.8, 256, 32, order)
    assert left == 0
    # the chance member is not similar to the template copies: checking only against it finds nothing
    first_leader = leader_edges(gid, values, offsets, 0.8, 256, 1, order)[0]
    assert gid[0] not in first_leader
    joined = set(edges.ravel().tolist())
    assert joined == set(gid[1:].tolist())  # all 499 copies, never the chance member
    # the edges connect the copies into one component
    parent = {g: g for g in joined}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges.tolist():
        parent[find(a)] = find(b)
    assert len({find(g) for g in joined}) == 1


def test_large_band_groups_through_the_whole_chain_form_one_cluster():
    texts, _, _, _ = _template_group(120)
    texts = texts + [make_doc(200 + i) for i in range(5)]
    out = dedup_table(doc_table(texts), DedupConfig(verify_group_limit=10))
    clusters = _clusters(out)
    ids = out.column("doc_id").to_pylist()
    assert clusters == {frozenset(ids[1:121])}


def test_clusters_do_not_depend_on_the_number_of_shards_or_partitions():
    docs = [make_doc(i, 40) for i in range(40)]
    texts = docs + [near_copy(d, 1, i) for i, d in enumerate(docs[:20])] + [docs[3], docs[3].upper()]
    texts += [near_copy(docs[5], 2, 100 + i) for i in range(60)]  # a large group (limit 50)
    table = doc_table(texts, scores=[float(i % 7) for i in range(len(texts))])
    cfg = DedupConfig()
    one = dedup_table(table, cfg, num_partitions=1)
    three = dedup_table(table, cfg, num_partitions=3, docs_per_shard=17)
    assert one.column("gid").to_pylist() == three.column("gid").to_pylist()
    for column in ("dup_cluster", "dup_kept", "reason"):
        assert one.column(column).to_pylist() == three.column(column).to_pylist()
    assert len(_clusters(one)) >= 20


def _components(tmp_path, edges, num_partitions):
    write_edges(edges[:, 0], edges[:, 1], tmp_path / "e0", "in", num_partitions)
    rnd = 0
    while True:
        counts = [star_round(part=q, in_dir=str(tmp_path / f"e{rnd}"), out_dir=str(tmp_path / f"e{rnd + 1}"),
                             num_partitions=num_partitions, large=rnd % 2 == 0) for q in range(num_partitions)]
        if sum(c["unstarred"] for c in counts) == 0:
            break
        rnd += 1
    for q in range(num_partitions):
        labels(part=q, in_dir=str(tmp_path / f"e{rnd}"), out_dir=str(tmp_path / "labels"), offsets=[0])
    table = read_part(tmp_path / "labels", 0, LABEL_SCHEMA)
    return dict(zip(table.column("gid").to_pylist(), table.column("root").to_pylist()))


def test_large_star_small_star_labels_each_component_by_its_smallest_node(tmp_path):
    rng = np.random.default_rng(0)
    path = np.stack([np.arange(100, 140), np.arange(101, 141)], -1)  # a long chain: many rounds
    star = np.stack([np.full(10, 500), np.arange(510, 520)], -1)
    noise = rng.integers(1000, 1100, size=(80, 2))
    edges = np.concatenate([path[rng.permutation(len(path))], star, noise])
    got = _components(tmp_path, edges, 3)
    want = {}
    parent = {int(v): int(v) for v in edges.ravel()}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    want = {v: find(v) for v in parent}
    want = {v: min(u for u in parent if want[u] == r) for v, r in want.items()}
    assert {v: r for v, r in got.items() if v != r or v in want} == {v: r for v, r in want.items()}
