"""What every emulator shares: a threaded server on loopback, faults, a steady rate limit.

Faults are decided per request before it is processed, so a request that fails changed
nothing and its retry is the first time the server applies it: the tests can then count
duplicate adds. A slow response is processed, only late. A lost create answer is the
exception: the object is created, then the answer is lost (the connection dropped, or a
gateway's 5xx), as when a timeout strikes after the ESP applied a call; an emulator names
its create calls in `creates`. `echo_errors` makes error answers
repeat the request (credentials and addresses included) as a careless server or proxy does,
to show that none of it reaches an exception or a log.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit


@dataclass
class Faults:
    rate_limit_every: int = 0  # every Nth request gets a 429
    error_rate: float = 0.0  # share of requests answered 500 or 503
    reset_rate: float = 0.0  # share of connections dropped without an answer
    slow_rate: float = 0.0  # share of requests answered after slow_seconds
    slow_seconds: float = 0.0
    failed_jobs: int = 0  # the first N async jobs end failed
    retry_after_seconds: int = 1  # what an injected 429 asks to wait (0: come back at once)
    echo_errors: str = ""  # "json" or "text": error answers echo the request (see `_echo`)
    lose_create_answers: int = 0  # the first N creates are applied, their answer lost
    lost_answer_status: int = 0  # how: 0 drops the connection, else this status (504)
    seed: int = 7


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class Reply(Exception):
    """Raised by a route to answer with a status, a JSON body and headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class Emulator:
    """Subclasses implement `route(request) -> (status, body)` and `error_body`, and say which
    calls create an object (`creates`, matched against "METHOD /path")."""

    creates: re.Pattern[str] | None = None

    def __init__(self, faults: Faults | None = None, steady_per_minute: float = 0.0) -> None:
        self.faults = faults or Faults()
        self.steady_per_minute = steady_per_minute
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()  # "METHOD /route" -> requests served
        self.faulted: Counter[str] = Counter()  # fault -> times injected
        self.seen_headers: list[dict[str, str]] = []
        self._random = random.Random(self.faults.seed)
        self.create_answers_to_lose = self.faults.lose_create_answers
        self._requests = 0
        self._window: deque[float] = deque()
        self._server: ThreadingHTTPServer | None = None

    # -- to implement ----------------------------------------------------------------------
    def route(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def error_body(self, status: int, title: str, detail: str) -> Any:
        return {"errors": [{"status": status, "title": title, "detail": detail}]}

    def throttle_headers(self, wait: float) -> dict[str, str]:
        """What a 429 says about when to come back (Klaviyo and Mailchimp: Retry-After)."""
        return {"Retry-After": str(math.ceil(wait))}

    # -- serving ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                emulator._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _fault(self) -> str | None:
        with self.lock:
            self._requests += 1
            f = self.faults
            if f.rate_limit_every and self._requests % f.rate_limit_every == 0:
                return "rate_limit"
            roll = self._random.random()
            if roll < f.reset_rate:
                return "reset"
            if roll < f.reset_rate + f.error_rate:
                return "error"
            if roll < f.reset_rate + f.error_rate + f.slow_rate:
                return "slow"
        return None

    def _over_rate(self) -> float | None:
        """Seconds until the steady limit lets another request through, if it is reached."""
        if not self.steady_per_minute:
            return None
        now = time.monotonic()
        with self.lock:
            while self._window and now - self._window[0] >= 60:
                self._window.popleft()
            if len(self._window) >= self.steady_per_minute:
                return 60 - (now - self._window[0])
            self._window.append(now)
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        fault = self._fault()
        if fault == "reset":
            self.faulted[fault] += 1
            self._drop(handler)
            return
        if fault == "rate_limit":
            self.faulted[fault] += 1
            body = self.error_body(429, "Throttled", "Request was throttled.")
            self._send(handler, 429, body, self.throttle_headers(self.faults.retry_after_seconds))
            return
        if fault == "error":
            self.faulted[fault] += 1
            status = self._random.choice((500, 503))
            self._send(handler, status, self.error_body(status, "Server error", "Try again."))
            return
        wait = self._over_rate()
        if wait is not None:
            self.faulted["steady_limit"] += 1
            body = self.error_body(429, "Throttled", "Steady rate limit reached.")
            self._send(handler, 429, body, self.throttle_headers(wait))
            return
        if fault == "slow":
            self.faulted[fault] += 1
            time.sleep(self.faults.slow_seconds)
        url = urlsplit(handler.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(handler, 400, self.error_body(400, "Invalid JSON", "Body is not JSON."))
            return
        request = Request(
            handler.command, url.path, parse_qs(url.query), dict(handler.headers.items()), body
        )
        with self.lock:
            self.seen_headers.append(request.headers)
        try:
            status, reply, headers = *self.route(request), {}
        except Reply as r:
            status, reply, headers = r.status, r.body, r.headers
        if status < 300 and self._lose_answer(request):
            if not self.faults.lost_answer_status:
                self._drop(handler)
                return
            status, headers = self.faults.lost_answer_status, {}
            reply = self.error_body(status, "Gateway Timeout", "The upstream did not answer.")
        if status >= 400 and self.faults.echo_errors:
            reply = self._echo(request, status, reply)
        self._send(handler, status, reply, headers)

    def _lose_answer(self, request: Request) -> bool:
        """Whether this create, just applied, loses its answer (`Faults.lose_create_answers`)."""
        if self.creates is None or not self.creates.match(f"{request.method} {request.path}"):
            return False
        with self.lock:
            if self.create_answers_to_lose <= 0:
                return False
            self.create_answers_to_lose -= 1
            self.faulted["lost_create_answer"] += 1
        return True

    def _drop(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    def _echo(self, request: Request, status: int, reply: Any) -> Any:
        """The error answer with the request repeated in it: the Authorization header, the
        key it carries as such texts may hold it (Base64 alone or after a user name of any
        length, URL-safe and unpadded, URL-encoded), the query string (URL-encoded) and the
        body. As JSON (the answer's own fields plus `echo`) or as plain text."""
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme == "Basic":
            key = base64.b64decode(key).decode().partition(":")[2]
        data = key.encode()
        echo = {
            "authorization": auth,
            "key": key,
            "key_base64": base64.b64encode(data).decode(),
            "key_base64url": base64.urlsafe_b64encode(data).decode().rstrip("="),
            "basic_base64": base64.b64encode(b"anystring:" + data).decode(),
            "basic_base64url": base64.urlsafe_b64encode(b"user:" + data).decode().rstrip("="),
            "authorization_urlencoded": quote(auth, safe=""),
            "basic_urlencoded": quote(base64.b64encode(b"anystring:" + data).decode(), safe=""),
            "query": urlencode(request.query, doseq=True),
            "body": request.body,
        }
        if self.faults.echo_errors == "text":
            lines = [f"HTTP {status}: {json.dumps(reply)}"]
            lines += [f"{name}: {json.dumps(value)}" for name, value in echo.items()]
            return "\n".join(lines).encode()
        return (
            {**reply, "echo": echo} if isinstance(reply, dict) else {"error": reply, "echo": echo}
        )

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, bytes):  # a plain-text answer, as a proxy's error page
            data, kind = body, "text/plain"
        else:
            data, kind = b"" if body is None else json.dumps(body).encode(), "application/json"
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if data:
            handler.wfile.write(data)

    def count(self, key: str) -> None:
        with self.lock:
            self.calls[key] += 1
