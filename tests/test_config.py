"""Run configs: the demo config loads; bad files are rejected with file, key path and expectation."""

from pathlib import Path

import pytest

from automixer.config import config_from_dict, load_config
from dataplane.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_demo_config_loads_with_typed_sections():
    config = load_config(REPO / "configs" / "demo.yaml")
    assert config.workdir == "runs/demo"
    assert {s.name for s in config.sources} >= {"stdlib_code", "math_problems"}
    assert any(s.reference for s in config.sources)
    assert config.dedup.threshold == pytest.approx(0.8)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("workdir: w\nsources:\n  - name: a\n    paths: [a]\n    formt: jsonl\n",
         "sources[0].formt: unknown key (did you mean 'format'?); allowed keys here: domain,"),
        ("workdir: w\ndedup:\n  threshold: high\n", "dedup.threshold: expected a number, got 'high'"),
        ("workdir: w\nsynth:\n  backend: gpt\n", "synth.backend: expected one of 'offline', 'openai', got 'gpt'"),
        ("seed: 3\n", "workdir: required key is missing"),
        ("workdir: w\nseed: true\n", "seed: expected an integer, got True"),
        ("workdir: w\ncuration:\n  num_buckets: 3\n", "keep_fractions must have num_buckets=3 values, got 5"),
        ("workdir: w\nsources:\n  - {name: a, paths: [x]}\n  - {name: a, paths: [y]}\n", "duplicate source name 'a'"),
        ("workdir: w\nsources:\n  - {name: a, paths: [x]}\nsynth:\n  policy:\n    - {strategy: qa, sources: [b]}\n",
         "synth.policy[0].sources names unknown source 'b'"),
        ("workdir: w\nsources: {name: a}\n", "sources: expected a list of a mapping"),
        ("- just\n- a list\n", "expected a mapping at the top level"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_invalid_yaml_reports_line(tmp_path):
    path = write(tmp_path, "workdir: w\nsources: [\n")
    with pytest.raises(ConfigError, match=r"run\.yaml:\d+: not valid YAML"):
        load_config(path)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_hash_is_stable_and_sensitive():
    a = config_from_dict({"workdir": "w", "seed": 1})
    b = config_from_dict({"seed": 1, "workdir": "w"})
    c = config_from_dict({"workdir": "w", "seed": 2})
    assert a.hash() == b.hash() != c.hash()


def test_resolved_config_round_trips(tmp_path):
    config = load_config(REPO / "configs" / "demo.yaml")
    path = write(tmp_path, config.to_yaml())
    assert load_config(path) == config


def test_workdir_placeholder_expands_in_paths(tmp_path):
    path = write(tmp_path, "workdir: /data/run1\nsources:\n  - {name: a, paths: ['{workdir}/sources/a.jsonl']}\n")
    config = load_config(path)
    assert config.sources[0].paths == ("/data/run1/sources/a.jsonl",)
    override = load_config(path, {"workdir": "/elsewhere"})
    assert override.sources[0].paths == ("/elsewhere/sources/a.jsonl",)
