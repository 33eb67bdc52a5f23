"""Connected components of the duplicate graph by large-star / small-star (Kiveris et al., 2014).

The graph is a set of undirected edges, each stored in both directions and hash-partitioned by its
first node (``<dir>/<partition>/*.parquet``). A round is one task per partition; each node u looks
only at its own neighbourhood N(u):
- large-star: m = min(N(u) + u); every neighbour v > u is linked to m instead of u;
- small-star: if u has smaller neighbours, m = their minimum; u and every smaller neighbour are
  linked to m.
Rounds alternate until the graph is a forest of stars (every node is either a centre whose neighbours
are all larger, or has exactly one neighbour, smaller): then each component is one star whose centre
is its smallest node, and that centre labels the component. The number of rounds is O(log^2 n);
each task holds one partition of edges, the driver only counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from dedup.groups import partition_of, runs
from dedup.parts import read_part, write_parts

EDGE_SCHEMA = pa.schema([("src", pa.int64()), ("dst", pa.int64())])
LABEL_SCHEMA = pa.schema([("gid", pa.int64()), ("root", pa.int64())])


def edge_table(a: np.ndarray, b: np.ndarray) -> pa.Table:
    """Undirected edges (a_i, b_i) in both directions, self loops dropped."""
    keep = a != b
    a, b = a[keep], b[keep]
    return pa.Table.from_arrays(
        [pa.array(np.concatenate([a, b]), pa.int64()), pa.array(np.concatenate([b, a]), pa.int64())], schema=EDGE_SCHEMA
    )


def write_edges(a: np.ndarray, b: np.ndarray, folder: Path | str, name: str, num_partitions: int) -> int:
    """Write undirected edges (a_i, b_i) to ``folder``, partitioned by their first node; return how many."""
    table = edge_table(np.asarray(a, np.int64), np.asarray(b, np.int64))
    write_parts(table, partition_of(table.column("src").to_numpy(), num_partitions), folder, name)
    return table.num_rows // 2


def _neighbourhoods(folder: str, part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst) sorted and unique, and the start and length of each node's run."""
    table = read_part(folder, part, EDGE_SCHEMA)
    src, dst = table.column("src").to_numpy(), table.column("dst").to_numpy()
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    fresh = np.concatenate(([True], (src[1:] != src[:-1]) | (dst[1:] != dst[:-1]))) if src.size else np.zeros(0, bool)
    src, dst = src[fresh], dst[fresh]
    starts, lengths = runs(src)
    return src, dst, starts, lengths


def star_round(*, part: int, in_dir: str, out_dir: str, num_partitions: int, large: bool) -> dict:
    """One large-star (``large``) or small-star step over partition ``part``; counts of the input."""
    src, dst, starts, lengths = _neighbourhoods(in_dir, part)
    node, smallest = src[starts], dst[starts]  # dst is sorted within a node's run
    starred = (smallest > node) | ((lengths == 1) & (smallest < node))
    m = np.repeat(np.minimum(node, smallest), lengths)
    if large:
        pick = dst > src
        a, b = dst[pick], m[pick]
    else:
        lower = dst < src
        m_low = np.repeat(smallest, lengths)  # the smallest neighbour, used when it is below the node
        a = np.concatenate([dst[lower], node[smallest < node]])
        b = np.concatenate([m_low[lower], smallest[smallest < node]])
    edges = write_edges(a, b, out_dir, f"from{part}", num_partitions)
    return {"nodes": int(node.size), "unstarred": int((~starred).sum()), "edges_out": edges}


def labels(*, part: int, in_dir: str, out_dir: str, offsets: list[int]) -> dict:
    """Component labels of the nodes of partition ``part`` of a star forest, written by input shard of the node."""
    src, dst, starts, lengths = _neighbourhoods(in_dir, part)
    node = src[starts]
    root = np.minimum(node, dst[starts])
    table = pa.Table.from_arrays([pa.array(node, pa.int64()), pa.array(root, pa.int64())], schema=LABEL_SCHEMA)
    shard = np.searchsorted(np.asarray(offsets), node, side="right") - 1
    write_parts(table, shard, out_dir, f"from{part}")
    return {"nodes": int(node.size)}
