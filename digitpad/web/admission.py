"""Who gets in, before any work is done: the Host allow-list, cross-site writes, the in-flight caps.

The ``Guard`` (``web.guard``) asks, for every request, from the headers alone:

- **Host allow-list** (``allowed_hosts``): a request naming another host gets 400. A page on
  another site that resolves its own name to this server (DNS rebinding) cannot talk to it.
  Health probes (``/healthz``, ``/readyz``) are exempt: Kubernetes sends the pod's IP.
- **No cross-site writes:** a POST, PUT, PATCH or DELETE that a browser sent from another origin
  (``Sec-Fetch-Site`` other than ``same-origin``/``none``, or else an ``Origin`` that is not this
  host) gets 403, before its body is read. That is what stops a page elsewhere storing rows with
  a no-cors ``fetch`` or ``sendBeacon``. Clients that are not browsers send neither header.
- **In-flight caps** (``max_requests_in_flight``, ``max_bytes_in_flight``): a request that would
  pass either gets 503 at once, before its body is read, instead of queueing in memory (each
  10 MB upload in flight costs ~25-30 MB). Health probes are not counted.

Everything here runs on the event loop, once per request: a few comparisons (~1-2 us).
"""

from __future__ import annotations

from ..errors import Busy, DigitpadError, Forbidden, InvalidRequest

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = (b":80", b":443")


def host_name(host: bytes) -> bytes:
    """A Host header's name, lower-case, without its port: ``[::1]:8000`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith(b"["):
        return host[:host.find(b"]") + 1] if b"]" in host else host
    return host.rsplit(b":", 1)[0] if b":" in host else host


def _authority(value: bytes) -> bytes:
    """host[:port] without a default port, lower-case."""
    value = value.strip().lower().rstrip(b"/")
    for port in _DEFAULT_PORTS:
        if value.endswith(port):
            return value[:-len(port)]
    return value


def same_origin(origin: bytes | None, fetch_site: bytes | None, host: bytes | None) -> bool:
    """Whether a browser sent this from the server's own page (True for non-browser clients)."""
    if fetch_site is not None:  # every current browser: the most precise answer
        return fetch_site in (b"same-origin", b"none")
    if origin is None:
        return True
    if origin == b"null" or host is None:  # sandboxed frames, data: URLs
        return False
    return _authority(origin.split(b"://", 1)[-1]) == _authority(host)


class Admission:
    """The checks and counters, shared by the app's Guards (one per process)."""

    def __init__(self, *, hosts: frozenset[str] | None, max_requests: int, max_bytes: int) -> None:
        self.hosts = None if hosts is None else frozenset(h.encode() for h in hosts)
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.requests = 0  # in flight now
        self.bytes = 0  # of bodies in flight now (declared, or received so far)
        self._known: dict[bytes, bool] = {}  # Host header value -> allowed (clients send a handful)

    def refuse(self, method: str, path: str, host: bytes | None, origin: bytes | None,
               fetch_site: bytes | None) -> DigitpadError | None:
        """The error for a request that must not come in, or None."""
        if self.hosts is not None and host is not None and path not in HEALTH_PATHS:
            allowed = self._known.get(host)
            if allowed is None:
                allowed = host_name(host) in self.hosts
                if len(self._known) < 256:
                    self._known[host] = allowed
            if not allowed:
                return InvalidRequest("this server does not answer to that host name", code="unknown_host",
                                      hint="set DIGITPAD_ALLOWED_HOSTS")
        if method not in SAFE_METHODS and not same_origin(origin, fetch_site, host):
            return Forbidden("requests from other sites may not change anything here", code="cross_site")
        return None

    def enter(self, path: str, declared: int) -> Busy | None:
        """Count a request in (None), or the 503 when it would pass a cap (nothing counted)."""
        if path in HEALTH_PATHS:
            return None
        if self.requests >= self.max_requests:
            return Busy(f"the server is working on {self.requests} requests; try again in a moment", code="busy")
        if self.bytes + declared > self.max_bytes:
            return Busy("the server holds as many uploads as it may; try again in a moment", code="busy")
        self.requests += 1
        self.bytes += declared
        return None

    def grow(self, path: str, nbytes: int) -> Busy | None:
        """More body bytes than declared arrived (a chunked body): count them, or the 503."""
        if path in HEALTH_PATHS:
            return None
        if self.bytes + nbytes > self.max_bytes:
            return Busy("the server holds as many uploads as it may; try again in a moment", code="busy")
        self.bytes += nbytes
        return None

    def leave(self, path: str, nbytes: int) -> None:
        if path not in HEALTH_PATHS:
            self.requests -= 1
            self.bytes -= nbytes
