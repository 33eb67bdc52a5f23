"""The openai backend: a client of any OpenAI-compatible chat-completions server.

POST {base_url}/chat/completions with bounded concurrency (a thread pool), a per-request timeout,
retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped connections and malformed
answers, and a persistent response cache so nothing is sent twice. The API key is read from the
environment variable the config names and only ever goes into the Authorization header.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dataplane.errors import AutomixerError
from synth.cache import ResponseCache, cache_key
from synth.config import OpenAIBackendConfig


class BackendError(AutomixerError):
    """The server refuses every request (bad URL, model or key): stop instead of rejecting each seed."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.retry = retry


@dataclass
class Reply:
    """One answer: its content (None on failure), why it failed, and what it cost."""

    content: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    requests: int = 0
    retries: int = 0
    cache_hit: bool = False


def _parse(body: bytes) -> tuple[str, str | None]:
    """(content, finish_reason) of a chat-completions answer; _Retryable('malformed') otherwise."""
    try:
        choice = json.loads(body)["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Retryable("malformed") from None
    if not isinstance(content, str):
        raise _Retryable("malformed")
    return content, choice.get("finish_reason")


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers and headers.get("Retry-After") else None
    except ValueError:
        return None


class OpenAIBackend:
    """Send many chat requests; ``complete(list of messages) -> list[Reply]`` in the same order.

    Args:
        config: server, model, concurrency, timeout, retry and sampling settings.
        cache_path: SQLite file of the response cache; None disables caching.
        seed: seed of the backoff jitter.
    """

    def __init__(self, config: OpenAIBackendConfig, cache_path: str | None = None, seed: int = 0):
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.params = {"temperature": config.temperature, "max_tokens": config.max_tokens}
        self.cache = ResponseCache(cache_path) if cache_path and config.cache else None
        self._api_key = os.environ.get(config.api_key_env) or None
        self._rng = random.Random(seed)

    def complete(self, conversations: list[list[dict]]) -> list[Reply]:
        if len(conversations) <= 1 or self.config.concurrency == 1:
            return [self.complete_one(m) for m in conversations]
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            return list(pool.map(self.complete_one, conversations))

    def complete_one(self, messages: list[dict]) -> Reply:
        key = cache_key(self.config.model, messages, self.params)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return Reply(content=hit[0], finish_reason=hit[1], cache_hit=True)
        reply = self._with_retries(messages)
        if self.cache is not None and reply.content is not None:
            self.cache.put(key, self.config.model, reply.content, reply.finish_reason)
        return reply

    def _with_retries(self, messages: list[dict]) -> Reply:
        reply = Reply()
        for attempt in range(self.config.max_retries + 1):
            reply.requests += 1
            try:
                reply.content, reply.finish_reason = self._post(messages)
                reply.error = None
                return reply
            except _Retryable as exc:
                reply.error = exc.reason
                if attempt == self.config.max_retries or not exc.retry:
                    break
                reply.retries += 1
                time.sleep(self._backoff(attempt, exc.retry_after))
        return reply

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter in [50%, 100%]; a Retry-After raises the floor; both capped."""
        delay = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempt)
        delay *= 0.5 + 0.5 * self._rng.random()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.config.backoff_max_s)

    def _post(self, messages: list[dict]) -> tuple[str, str | None]:
        body = json.dumps({"model": self.config.model, "messages": messages, **self.params}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                return _parse(response.read())
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except urllib.error.URLError as exc:
            timeout = isinstance(exc.reason, (TimeoutError, socket.timeout))
            raise _Retryable("timeout" if timeout else "connection") from None
        except (TimeoutError, socket.timeout):
            raise _Retryable("timeout") from None
        except (http.client.HTTPException, ConnectionError):
            raise _Retryable("connection") from None

    def _http_error(self, exc: urllib.error.HTTPError) -> Exception:
        code = exc.code
        if code == 429 or code >= 500 or code == 408:
            return _Retryable(f"http_{code}", _retry_after(exc.headers))
        if code in (401, 403, 404):
            hint = {401: f"check the API key in ${self.config.api_key_env}", 403: f"check the API key in "
                    f"${self.config.api_key_env}", 404: "check synth.openai.base_url (it should end in /v1) "
                    "and synth.openai.model"}[code]
            return BackendError(f"{self.url} answered HTTP {code}: {hint}")
        return _Retryable(f"http_{code}", retry=False)  # e.g. 400 prompt too long: a retry cannot help
