"""The HTTP layer every ESP adapter shares: pacing, retries and secrets kept out of sight.

ESP APIs rate-limit, fail over, reset connections and stall. A call here
- waits its turn under the ESP's published steady rate (a client-side pace), so a large
  sync runs at the limit instead of bouncing off it;
- on 429 waits what the server asks (`Retry-After`, or a reset header: seconds or epoch);
- on 5xx, a timeout or a dropped connection retries with exponential backoff and full
  jitter;
- gives up once its total deadline would pass, with an `ApiError` saying what happened.
A call that must not be applied twice (a create: `idempotent=False`) is not sent again when
its outcome is unknown (a timeout, a dropped connection, a 5xx: the ESP may have applied it);
the `ApiError` says so (`outcome_unknown`) and the caller looks before it creates again
(`esp.find_or_create`).
Neither the exception nor the log ever carries the credentials or a full address: they live
in the session's headers, and every error's message and body (which an ESP or a proxy may
echo the request into) is scrubbed of them, in any encoding, before it leaves (`scrub.py`).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from orchestration.publish.scrub import Scrubber

log = logging.getLogger(__name__)
# urllib3 logs every request line at DEBUG, query strings (which may hold addresses) included.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BODY_LIMIT = 2_000  # characters of a text answer kept (once scrubbed)
MESSAGE_BODY_LIMIT = 500  # characters of the answer in an error's message


class ApiError(RuntimeError):
    """A call the ESP refused, or that did not succeed before the deadline. Its message and
    `body` (the ESP's answer, parsed if JSON) are scrubbed by the client that raised it."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        body: Any = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        # A call that may or may not have been applied (no answer, or a 5xx), not sent again.
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class RetryPolicy:
    deadline_seconds: float = 600.0  # per call, retries included
    timeout_seconds: float = 60.0  # per attempt
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    requests_per_minute: float = 0.0  # the client-side pace; 0 = none


class Pace:
    """At most `per_minute` calls a minute, spread evenly, shared by threads."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """What a 429 asks to wait: `Retry-After` (seconds or an HTTP date), else a reset header
    (`RateLimit-Reset`, `X-RateLimit-Reset`: seconds to wait, or an epoch timestamp)."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    for name in ("RateLimit-Reset", "X-RateLimit-Reset"):
        value = headers.get(name)
        if value:
            try:
                reset = float(value)
            except ValueError:
                continue
            # Large numbers are epoch seconds (SendGrid), small ones seconds to wait.
            return max(0.0, reset - now) if reset > 1_000_000_000 else max(0.0, reset)
    return None


class ApiClient:
    """One ESP's API: a base URL, auth headers (kept secret) and the retry policy."""

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        secrets: Iterable[str],
        policy: RetryPolicy = RetryPolicy(),
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        secrets = [*secrets, auth[1]] if auth else list(secrets)
        self._scrubber = Scrubber(secrets, users=[auth[0]] if auth else [])
        self._session = requests.Session()
        self._session.headers.update(headers)
        if auth:
            self._session.auth = auth
        self._pace = Pace(policy.requests_per_minute)
        self.sleep = sleep  # between retries; a test passes one that records and returns
        self.calls = 0  # HTTP requests sent, retries included
        self.retries = 0

    def scrub(self, text: str, limit: int | None = None) -> str:
        """The text without the credentials in any encoding, with addresses masked
        (`j***@domain`), then cut to `limit` characters."""
        return self._scrubber.text(text, limit)

    def scrub_body(self, body: Any) -> Any:
        """An answer's body (parsed JSON, or text) scrubbed all through; a text cut short."""
        if isinstance(body, str):
            return self._scrubber.text(body, BODY_LIMIT)
        return self._scrubber.value(body)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        ok: Iterable[int] = (200, 201, 202, 204),
        idempotent: bool = True,
    ) -> requests.Response:
        """The response of the first attempt with an `ok` status; ApiError otherwise. A call
        that is not `idempotent` is resent after a 429 (not applied) only: after a timeout, a
        dropped connection or a 5xx it raises ApiError(outcome_unknown=True)."""
        ok = frozenset(ok)
        p = self.policy
        deadline = time.monotonic() + p.deadline_seconds
        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            attempt += 1
            self._pace.wait()
            self.calls += 1
            wait: float | None
            try:
                response = self._session.request(
                    method, url, params=params, json=json, data=data, timeout=p.timeout_seconds
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}"
                status, body, wait = None, None, None
            except requests.RequestException as exc:
                # A request that could not be sent at all (a bad URL or header): its message
                # quotes the URL or header, which may hold an address or a key. Not chained.
                problem = f"{type(exc).__name__}: the request could not be sent"
                raise ApiError(self._message(method, path, problem, None, attempt)) from None
            else:
                if response.status_code in ok:
                    return response
                status, body = response.status_code, self.scrub_body(_body(response))
                problem = f"HTTP {status}"
                if status not in RETRY_STATUSES:
                    raise ApiError(
                        self._message(method, path, problem, body, attempt), status, body
                    )
                wait = retry_after_seconds(response.headers) if status == 429 else None
            if not idempotent and status != 429:
                message = self._message(method, path, problem, body, attempt)
                raise ApiError(
                    f"{message}; not sent again: it may have been applied",
                    status,
                    body,
                    outcome_unknown=True,
                )
            backoff = self.backoff(attempt)
            wait = max(wait, backoff) if wait is not None else backoff
            if time.monotonic() + wait > deadline:
                message = self._message(method, path, problem, body, attempt)
                raise ApiError(
                    f"{message}; gave up: the next try would pass the {p.deadline_seconds:g} s "
                    "deadline",
                    status,
                    body,
                )
            self.pause(wait, f"{method} {path}: {problem}", attempt)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before try `attempt + 1`: exponential, with full jitter."""
        p = self.policy
        return random.uniform(0, min(p.backoff_max_seconds, p.backoff_base_seconds * 2**attempt))

    def pause(self, seconds: float, why: str, attempt: int) -> None:
        """Wait before a retry, counted and logged (`why` scrubbed)."""
        self.retries += 1
        log.info("%s %s, retry %d in %.1f s", self.name, self.scrub(why), attempt, seconds)
        self.sleep(seconds)

    def _message(self, method: str, path: str, problem: str, body: Any, attempts: int) -> str:
        # Scrubbed before it is cut: a cut through a key would keep its first half.
        detail = self.scrub(str(body), MESSAGE_BODY_LIMIT) if body is not None else ""
        text = f"{self.name} {method} {path}: {problem} after {attempts} attempt(s) {detail}"
        return self.scrub(text.strip())


def _body(response: requests.Response) -> Any:
    """The answer parsed if JSON, else its whole text (cut only once scrubbed)."""
    try:
        return response.json()
    except ValueError:
        return response.text
