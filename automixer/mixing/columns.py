"""Column prefixes of the runs table: ``mix/<component>`` weights and ``metric/<name>`` measured values."""

MIX = "mix/"
METRIC = "metric/"
