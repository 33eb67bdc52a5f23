"""The openai backend against a real HTTP server on 127.0.0.1 that injects faults."""

from __future__ import annotations

import pytest
from synth_testdata import FAST_OPENAI

from synth.config import OpenAIBackendConfig
from synth.fake_server import REFUSAL
from synth.openai_backend import BackendError, OpenAIBackend


def backend(server, tmp_path=None, **overrides) -> OpenAIBackend:
    config = OpenAIBackendConfig(**{**FAST_OPENAI, "base_url": server.url, **overrides})
    return OpenAIBackend(config, str(tmp_path / "cache.sqlite") if tmp_path else None)


def chat(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_transient_faults_are_retried_and_counted(chat_server):
    prompts = {"ok": 0, "[[faults:429]] a": 1, "[[faults:500,500]] b": 2, "[[faults:slow]] c": 1,
               "[[faults:malformed,429,500]] d": 3}
    replies = backend(chat_server).complete([chat(p) for p in prompts])
    for reply, retries in zip(replies, prompts.values()):
        assert reply.error is None and reply.content and reply.finish_reason == "stop"
        assert (reply.retries, reply.requests, reply.cache_hit) == (retries, retries + 1, False)
    assert chat_server.requests == sum(prompts.values()) + len(prompts)
    assert chat_server.counts["slow"] == 1 and chat_server.counts["malformed"] == 1


def test_exhausted_retries_end_as_a_failure_with_the_last_reason(chat_server):
    reply = backend(chat_server, max_retries=2).complete_one(chat("[[always:500]] x"))
    assert (reply.content, reply.error, reply.requests, reply.retries) == (None, "http_500", 3, 2)


def test_refusals_come_back_as_answers_for_the_checks(chat_server):
    assert backend(chat_server).complete_one(chat("[[always:refuse]] x")).content == REFUSAL


def test_second_run_answers_from_the_cache_without_a_request(chat_server, tmp_path):
    prompts = [chat(f"[[faults:429]] prompt {i}") for i in range(6)]
    first = backend(chat_server, tmp_path).complete(prompts)
    sent = chat_server.requests
    second = backend(chat_server, tmp_path).complete(prompts)
    assert chat_server.requests == sent == 12
    assert [r.content for r in second] == [r.content for r in first]
    assert all(r.cache_hit and r.requests == 0 for r in second)


def test_cache_key_includes_model_and_parameters(chat_server, tmp_path):
    backend(chat_server, tmp_path).complete_one(chat("same prompt"))
    backend(chat_server, tmp_path, temperature=0.1).complete_one(chat("same prompt"))
    backend(chat_server, tmp_path, model="other").complete_one(chat("same prompt"))
    assert chat_server.requests == 3


def test_failures_are_not_cached(chat_server, tmp_path):
    backend(chat_server, tmp_path, max_retries=0).complete_one(chat("[[faults:500]] once"))
    reply = backend(chat_server, tmp_path, max_retries=0).complete_one(chat("[[faults:500]] once"))
    assert reply.content and not reply.cache_hit and chat_server.requests == 2


def test_wrong_url_stops_with_a_clear_error(chat_server):
    bad = backend(chat_server, base_url=chat_server.url.replace("/v1", "/nope"))
    with pytest.raises(BackendError, match="HTTP 404: check synth.openai.base_url"):
        bad.complete_one(chat("x"))


def test_api_key_comes_from_the_named_environment_variable(chat_server, monkeypatch):
    monkeypatch.setenv("AUTOMIXER_TEST_KEY", "sk-test-123")
    backend(chat_server).complete_one(chat("x"))
    assert chat_server.auth_headers == {"Bearer sk-test-123"}


def test_concurrency_bounds_requests_in_flight(tmp_path):
    from synth.fake_server import FakeChatServer

    with FakeChatServer(latency_s=0.1) as server:
        import time

        started = time.perf_counter()
        backend(server, concurrency=4).complete([chat(f"p{i}") for i in range(8)])
        elapsed = time.perf_counter() - started
    assert 0.2 <= elapsed < 0.6  # two waves of four
