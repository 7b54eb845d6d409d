"""A real ``digitpad serve`` for tests and benchmarks: a free loopback port, start, wait until it
answers, show its log when it dies, stop it by PID. One harness, used by tests/conftest.py and
every script under bench/.

    with ServerProcess("--workers", "2", log_dir=tmp, env={"DIGITPAD_FEEDBACK": "false"}) as server:
        httpx.get(server.url + "/healthz")

It binds 127.0.0.1 only, never touches the user's feedback database (a throwaway SQLite file
unless ``env`` names one), and keeps every numeric library to one thread, as ``digitpad serve``
does. Failures raise ``HarnessError`` with the end of the server's log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Keep every numeric library to one thread in the server: with 2 cores and N worker processes,
# intra-op threads would only fight the workers (onnxruntime's own count is Settings.threads = 1).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class HarnessError(RuntimeError):
    """The server died or never answered; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and all its children (a server and its workers)."""
    import psutil  # (the dev extra: tests and benches only)

    main = psutil.Process(pid)
    total = 0.0
    for p in [main, *main.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:  # a worker that ended meanwhile
            pass
    return total


class ServerProcess:
    """``python -m digitpad.cli serve ARGS`` on a free 127.0.0.1 port, as a real subprocess."""

    def __init__(self, *args: str, log_dir: Path | None = None, env: dict[str, str] | None = None,
                 startup_s: float = 60.0, cwd: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()  # a given port: a server started again where its clients know it
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self._tmp = tempfile.TemporaryDirectory(prefix="digitpad-server-") if log_dir is None else None
        self.dir = Path(self._tmp.name) if self._tmp else Path(log_dir)
        self.log_path = self.dir / f"server-{self.port}.log"
        self.env = {**os.environ, **ONE_THREAD_ENV, "PYTHONUNBUFFERED": "1",
                    "DIGITPAD_DATABASE_URL": f"sqlite:///{self.dir / f'feedback-{self.port}.db'}", **(env or {})}
        self.cmd = [sys.executable, "-m", "digitpad.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                    *args]
        self.startup_s = startup_s
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.cold_start_s = 0.0  # seconds from spawning the process to its first good answer
        self.cold_start_cpu_s = 0.0  # CPU seconds its processes used until then

    # ---------------------------------------------------------------- life

    def start(self, ready: str = "/healthz") -> ServerProcess:
        """Spawn the server and wait until GET ``ready`` answers 200 (polled every 10 ms)."""
        self._log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        while True:
            if self.proc.poll() is not None:
                self._close_log()
                raise HarnessError(f"server exited with {self.proc.returncode} before answering; its log:\n"
                                   f"{self.log()}")
            try:
                with urllib.request.urlopen(self.url + ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > self.startup_s:
                self.stop()
                raise HarnessError(f"server did not answer {ready} within {self.startup_s:.0f} s; its log:\n"
                                   f"{self.log()}")
            time.sleep(0.01)
        self.cold_start_s = time.perf_counter() - t0
        self.cold_start_cpu_s = self.cpu_seconds()
        return self

    def stop(self) -> None:
        """SIGTERM by PID (uvicorn shuts down and stops its workers), SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    # ---------------------------------------------------------------- looking at it

    def log(self, tail: int = 20_000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self) -> None:
        if not self.alive():
            raise HarnessError(f"server died; its log:\n{self.log()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and all its processes: a cold-start
        figure that, unlike wall time, barely depends on what else the machine is running."""
        assert self.proc is not None
        return round(tree_cpu_seconds(self.proc.pid), 3)

    def worker_pids(self) -> list[int]:
        """PIDs of the processes that serve requests: the server itself, or its uvicorn workers."""
        import psutil

        assert self.proc is not None
        main = psutil.Process(self.proc.pid)
        kids = [p.pid for p in main.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
        return kids or [main.pid]

    def rss_mb(self) -> list[float]:
        """Resident memory of each serving process, MB (10^6 bytes)."""
        import psutil

        out = []
        for pid in self.worker_pids():
            try:
                out.append(round(psutil.Process(pid).memory_info().rss / 1e6, 1))
            except psutil.NoSuchProcess:
                out.append(float("nan"))
        return out
