"""Exact and MinHash LSH near-duplicate removal, in four steps like datatrove's minhash dedup.

1. signatures.SignatureStage: normalised-text key and MinHash signature per document (minhash.py,
   shingles.py; signatures equal datasketch's legacy scheme for the same seed).
2. buckets.BandKeyStage: one LSH key per band (bands and rows from the threshold).
3. buckets.BandGroupStage + candidate_pairs: documents sharing a key, grouped over the data set.
4. clusters.assign_clusters (union-find, keeper = best quality) and filter.FilterStage.

local.dedup_table runs the four steps in a plain loop; automixer/flows/dedup.py runs them on Ray.
"""
