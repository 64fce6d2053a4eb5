"""The web app's login check: one user:password, and failed logins throttled per client and per user.

After `FREE_FAILURES` wrong passwords, a client address (and, separately, a user name) must wait
before its next attempt, twice as long after each further failure, up to `MAX_DELAY` seconds.
While a wait is in force every attempt is refused without checking the password, the right one
included, and the refusal says how long is left. A successful login clears both counts.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

log = logging.getLogger("qa.app.login")

FREE_FAILURES = 3          # typing mistakes before any wait
BASE_DELAY = 1.0           # seconds after the first failure past the free ones; doubles with each
MAX_DELAY = 300.0
MAX_TRACKED = 10_000       # client addresses and user names remembered; idle ones are forgotten first

# The address of the client whose request is being handled: Gradio calls the login check with
# only (username, password), so an ASGI middleware (ClientAddress) records it for the request.
client_address: contextvars.ContextVar[str] = contextvars.ContextVar("client_address", default="unknown")


class LoginThrottled(Exception):
    """A login attempt refused, unchecked, because of earlier failures; says how long to wait."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins from this address or for this user: try again in "
                         f"{max(1, round(retry_after))} s (this attempt was not checked)")


@dataclass
class _Failures:
    count: int = 0
    wait_until: float = 0.0
    last: float = 0.0


class LoginGuard:
    """`guard(username, password) -> bool` for Gradio's `auth=`; raises LoginThrottled while a
    wait is in force (the app turns it into an HTTP error that says so)."""

    def __init__(self, username: str, password: str, *, clock: Callable[[], float] = time.monotonic,
                 free_failures: int = FREE_FAILURES, base_delay: float = BASE_DELAY,
                 max_delay: float = MAX_DELAY) -> None:
        self._username, self._password = username, password
        self._clock = clock
        self._free, self._base, self._max = free_failures, base_delay, max_delay
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        return self.check(username, password, client_address.get())

    def check(self, username: str, password: str, client: str) -> bool:
        keys = [("client", client), ("user", username)]
        with self._lock:
            now = self._clock()
            wait = max((self._failures[k].wait_until - now for k in keys if k in self._failures), default=0.0)
            if wait > 0:
                log.warning("login refused for user %r from %s: %.0f s of back-off left", username, client, wait)
                raise LoginThrottled(wait)
            # Both compared, always: the time taken does not tell which one was wrong.
            right_user = hmac.compare_digest(username.encode("utf-8", "surrogateescape"),
                                             self._username.encode("utf-8"))
            right_password = hmac.compare_digest(password.encode("utf-8", "surrogateescape"),
                                                 self._password.encode("utf-8"))
            if right_user and right_password:
                for key in keys:
                    self._failures.pop(key, None)
                return True
            delays = [self._failed(key, now) for key in keys]
            log.warning("failed login for user %r from %s (%d failures from this address); next attempt "
                        "allowed in %.0f s", username, client, self._failures[keys[0]].count, max(delays))
            return False

    def _failed(self, key: tuple[str, str], now: float) -> float:
        if key not in self._failures and len(self._failures) >= MAX_TRACKED:
            self._forget_idle(now)
        entry = self._failures.setdefault(key, _Failures())
        entry.count += 1
        entry.last = now
        over = entry.count - self._free
        delay = 0.0 if over <= 0 else min(self._max, self._base * 2 ** (over - 1))
        entry.wait_until = now + delay
        return delay

    def _forget_idle(self, now: float) -> None:
        """Drop entries whose wait is over, oldest first, to keep memory bounded under a flood."""
        idle = sorted((e.last, k) for k, e in self._failures.items() if e.wait_until <= now)
        for _, key in idle[: max(1, len(self._failures) - MAX_TRACKED // 2)]:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:  # all still waiting: forget the oldest anyway
            del self._failures[min(self._failures, key=lambda k: self._failures[k].last)]


class ClientAddress:
    """ASGI middleware: records the peer address of each HTTP request for the login check.
    The socket's peer, not X-Forwarded-For: behind a proxy every client shares the proxy's
    address, and only the per-user limit tells them apart."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            peer = scope.get("client")
            token = client_address.set(str(peer[0]) if peer else "unknown")
            try:
                await self.app(scope, receive, send)
            finally:
                client_address.reset(token)
        else:
            await self.app(scope, receive, send)


__all__ = ["LoginGuard", "LoginThrottled", "ClientAddress", "client_address", "FREE_FAILURES", "BASE_DELAY",
           "MAX_DELAY"]
