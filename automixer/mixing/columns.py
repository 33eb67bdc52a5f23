"""Column prefixes of the runs table: ``mix/<component>`` weights and ``metric/<name>`` measured values."""

MIX = "mix/"
METRIC = "metric/"
EXPERT_TAG = "expert"
"""``tag`` of the sweep's data experts (one component each; automixer/sweep/experts.py): they are in the runs
table but are not sampled mixtures, so ``parse_runs`` leaves them out."""
