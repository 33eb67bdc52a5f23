"""Curation config: defaults load, bad values name their key."""

from __future__ import annotations

import pytest

from automixer.config import config_from_dict
from dataplane.errors import ConfigError


def _config(curation: dict):
    return config_from_dict({"workdir": "w", "sources": [{"name": "s", "paths": ["x"]}], "curation": curation})


def test_defaults_and_nested_overrides_build():
    cur = _config({"prose": {"min_words": 20}, "domain_rules": {"stem": "none"}}).curation
    assert cur.prose.min_words == 20 and cur.math.min_words == 10
    assert cur.domain_rules == {"stem": "none"}


@pytest.mark.parametrize("curation, message", [
    ({"bucket_thresholds": [0.2, 0.5, 0.6, 0.9]}, "descending"),
    ({"keep_fractions": [1.0, 1.0]}, "keep_fractions must have num_buckets=5"),
    ({"domain_rules": {"code": "python"}}, "curation.domain_rules.code"),
    ({"classifier": {"model": "bert"}}, "curation.classifier.model"),
    ({"tokenizer": {"vocab_size": 10}}, "vocab_size must be at least 300"),
])
def test_bad_values_name_their_key(curation, message):
    with pytest.raises(ConfigError, match=message):
        _config(curation)
