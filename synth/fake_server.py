"""A local chat-completions server for tests and benchmarks, with faults injected on request.

It listens on 127.0.0.1 (port 0: the OS picks one) and answers POST /v1/chat/completions. A marker in
the user message scripts its behaviour for that prompt:

    [[faults:429,500,slow,malformed]]   successive attempts get these; later attempts succeed
    [[always:refuse]]  (or copy, empty, 500)   every attempt gets this

Normal answers are a deterministic rewrite of the prompt (never a copy of it). ``latency_s`` delays
every answer (benchmarks); ``slow_s`` is how long a 'slow' answer takes (set it past the client timeout).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FAULTS = re.compile(r"\[\[faults:([\w,]+)\]\]")
_ALWAYS = re.compile(r"\[\[always:(\w+)\]\]")
REFUSAL = "I'm sorry, but I can't help with that request."


def _user_text(body: dict) -> str:
    return "\n".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user")


def normal_answer(prompt: str) -> str:
    """A deterministic answer that reuses a few words of the prompt but copies no sentence of it."""
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z]{5,}", prompt)})[:12]
    topic = ", ".join(words) or "the material"
    return (f"Q: Which ideas does the material connect?\nA: It connects {topic}.\n\n"
            f"Q: Why does that matter?\nA: Seeing how they relate makes the material easier to recall.")


class FakeChatServer:
    """Start with ``start()`` (or use as a context manager); ``url`` is the base URL up to /v1."""

    def __init__(self, *, latency_s: float = 0.0, slow_s: float = 2.0):
        self.latency_s = latency_s
        self.slow_s = slow_s
        self.counts: Counter = Counter()
        self.attempts: Counter = Counter()
        self.auth_headers: set[str] = set()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return self.counts["requests"]

    def start(self) -> "FakeChatServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeChatServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def behaviour(self, prompt: str) -> str:
        """What this attempt at ``prompt`` gets: ok, 429, 500, slow, malformed, refuse, copy or empty."""
        always = _ALWAYS.search(prompt)
        if always:
            return always.group(1)
        key = hashlib.sha1(prompt.encode()).hexdigest()
        with self.lock:
            attempt = self.attempts[key]
            self.attempts[key] += 1
        faults = _FAULTS.search(prompt)
        script = faults.group(1).split(",") if faults else []
        return script[attempt] if attempt < len(script) else "ok"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                with server.lock:
                    server.counts["requests"] += 1
                    server.auth_headers.add(self.headers.get("Authorization", ""))
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                except ValueError:
                    return self._send(400, b'{"error": "bad json"}')
                prompt = _user_text(body)
                action = server.behaviour(prompt)
                with server.lock:
                    server.counts[action] += 1
                time.sleep(server.slow_s if action == "slow" else server.latency_s)
                self._answer(action, prompt, body.get("model", ""))

            def _answer(self, action: str, prompt: str, model: str):
                if action in ("429", "500"):
                    return self._send(
                        int(action), b'{"error": "injected"}', {"Retry-After": "0"} if action == "429" else None
                    )
                if action == "malformed":
                    return self._send(200, b'{"choices": [{"message": ')
                content = {"refuse": REFUSAL, "copy": prompt.split("\n\n", 1)[-1], "empty": ""}.get(action)
                if content is None:
                    content = normal_answer(prompt)
                answer = {
                    "id": "fake",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                }
                self._send(200, json.dumps(answer).encode())

            def _send(self, code: int, data: bytes, headers: dict | None = None):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        return Handler
