"""The listening sockets of ``digitpad serve``: checked before start-up, one per worker on Linux.

uvicorn's ``--workers N`` binds one socket in the supervisor and hands it to every worker.
The workers then race for new connections, and one of them often wins a whole burst: with 8
keep-alive clients, one worker could hold all 8 for a whole run while the other idled, which
halved throughput (BENCHMARKS.md, "Fourth session"). On Linux, ``SO_REUSEPORT`` gives each
worker a listening socket of its own on the same port, and the kernel spreads new connections
over them evenly (by a hash of their addresses). uvicorn's supervisor stays in charge of
everything else (health checks, restarts, signals): it only ever pickles the sockets it is given
into each worker it spawns, and ``WorkerSocket`` unpickles as a new socket, bound in that worker.

Other systems keep uvicorn's one shared socket (macOS and Windows do not spread connections
over ``SO_REUSEPORT`` sockets).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys

from ..errors import DigitpadError

log = logging.getLogger("uvicorn.error")

PER_WORKER_SOCKETS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_address(host: str, port: int) -> int:
    """The port ``digitpad serve`` will listen on (``port``, or a free one for 0), or a clear error.

    The probe socket has no ``SO_REUSEPORT``, so it fails against a running digitpad's workers
    too: a second server on the same port is refused instead of silently sharing its traffic.
    """
    try:
        with socket.socket(_family(host)) as probe:
            # Like uvicorn: a port whose old connections are still in TIME_WAIT is free to reuse.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return probe.getsockname()[1]
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DigitpadError(f"{host}:{port} is already in use", code="address_in_use",
                                hint=("stop the program listening there, or pick another port: --port N, "
                                      "DIGITPAD_PORT=N, or make run PORT=N")) from None
        raise DigitpadError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code="bad_address",
                            hint="--host takes an address of this machine, e.g. 127.0.0.1 or 0.0.0.0") from None


class WorkerSocket:
    """Stands for "a listening socket of this worker's own" in the supervisor's socket list."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self):  # noqa: ANN204 (pickle protocol)
        return _bind_in_worker, (self.host, self.port)


def _bind_in_worker(host: str, port: int) -> socket.socket:
    """Runs in the worker, as it unpickles its start-up arguments: a socket of its own."""
    sock = socket.socket(_family(host))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))  # asyncio's create_server calls listen() on it
    except OSError as exc:  # taken since check_address: a start-up failure, which stops the supervisor
        from uvicorn.config import STARTUP_FAILURE

        sock.close()
        print(f"digitpad worker: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    return sock


def run_workers(config, host: str, port: int) -> None:  # noqa: ANN001 (uvicorn.Config, imported lazily)
    """Run ``config.workers`` uvicorn workers under uvicorn's supervisor (blocking)."""
    from uvicorn.supervisors import Multiprocess

    if PER_WORKER_SOCKETS:
        sockets = [WorkerSocket(host, port)]
        log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit), one socket per worker", host, port)
    else:
        sockets = [config.bind_socket()]
    Multiprocess(config, sockets=sockets).run()  # type: ignore[list-item]
