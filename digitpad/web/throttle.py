"""Per-client rate limits: a token bucket per client address, in this process's memory.

    corrections = Throttle(per_minute=20)
    wait = corrections.take(client)     # 0.0: go ahead; else the seconds until the next one may come

A client may spend ``per_minute`` tokens at once (a burst), and gets them back evenly over a
minute. The client is ``scope["client"]``'s address: behind a reverse proxy, uvicorn puts the
real client's there from ``X-Forwarded-For`` when the proxy is trusted (``trusted_proxies``).
Each server process counts on its own (N workers or replicas allow N times the rate per client:
the limits are set per process, see the README). At most ``max_clients`` addresses are
remembered; the longest-quiet one is forgotten first (and comes back with a full bucket).
Called from the event loop only, so no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class Throttle:
    def __init__(self, per_minute: int, *, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def _level(self, client: str, now: float) -> float:
        tokens, when = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - when) * self.refill)

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may be served again (0.0: now), spending nothing."""
        level = self._level(client, time.monotonic())
        return 0.0 if level >= 1.0 else (1.0 - level) / self.refill

    def take(self, client: str) -> float:
        """Spend one token: 0.0 when there was one, else the seconds to wait (nothing spent)."""
        now = time.monotonic()
        level = self._level(client, now)
        if level < 1.0:
            return (1.0 - level) / self.refill
        self._buckets[client] = (level - 1.0, now)
        self._buckets.move_to_end(client)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return 0.0


def client_of(scope: dict) -> str:
    """The client's address (uvicorn's, after X-Forwarded-For from a trusted proxy)."""
    client = scope.get("client")
    return client[0] if client else "unknown"
