"""The leaf data layer: shard schema, error types, atomic shard store and JSONL reading.

It imports nothing from the project, and it is the only part of the project that the stage packages
(curation, dedup, synth, proxies) may import.
"""
