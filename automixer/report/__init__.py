"""The report page of a run (``automixer report``): one static HTML page with PNG figures beside it.

Modules: queries (DuckDB aggregates over the catalog), figures (matplotlib), html (page pieces),
context (what sections read), data_sections, model_sections, provenance (one function per section).
"""
