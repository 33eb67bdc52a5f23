"""Exact and MinHash LSH near-duplicate removal: one cluster chain over Parquet shards.

- signatures.SignatureStage: normalised-text key, one-permutation MinHash signature and bottom-k
  sample per document (shingles.py, sketch.py);
- groups.py: band keys and band groups (all pairs for small groups, the leader method for large ones);
- chain.py: the chain of tasks (signatures, grouping, verification, components.py, keepers in
  clusters.py) run in process (local.py: tables, bare files) or as Ray tasks (automixer/flows/dedup.py);
- filter.FilterStage: marks and splits documents by the cluster files.

docs/DEDUP.md describes the chain, the large-group method and the memory model.
"""
