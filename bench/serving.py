"""Shared pieces of the serving benchmarks (``serve_load.py``, ``soak.py``) and ``tests/test_soak.py``:
realistic canvas drawings, multipart bodies, and a ``digitpad serve`` subprocess whose cold start
and per-worker memory can be measured.

Not a script: ``serve_load.py`` and ``soak.py`` import it (they put ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PENDIGITS = REPO.parent / "shared" / "data" / "pendigits" / "trajectories-dev.jsonl.gz"
BOUNDARY = "----digitpadbench7MA4YWxkTrZu0gW"

# Keep every numeric library to one thread in the server: with 2 cores and N worker processes,
# intra-op threads would only fight the workers (onnxruntime's own count is Settings.threads = 1).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pendigits_path(arg: str | None = None) -> Path:
    """--pendigits, else $DIGITPAD_PENDIGITS, else ../shared beside the repo."""
    p = Path(arg or os.environ.get("DIGITPAD_PENDIGITS") or DEFAULT_PENDIGITS)
    if not p.is_file():
        sys.exit(f"pendigits file not found: {p} (pass --pendigits or set DIGITPAD_PENDIGITS)")
    return p


@dataclass(frozen=True)
class Drawing:
    id: str
    label: int
    png: bytes  # a 280x280 RGBA PNG: black ink, transparent elsewhere (what the page's canvas sends)


def canvas_drawings(path: Path, n: int, *, start: int = 0) -> list[Drawing]:
    """``n`` real pen-drawn digits rendered as the page's 280x280 transparent canvas PNGs.

    Taken evenly across the file (every k-th record) so all writers and digits appear.
    """
    from digitpad import pendigits

    records = pendigits.load(path)
    step = max(1, len(records) // max(n, 1))
    chosen = records[start::step][:n]
    style = pendigits.STYLES["transparent-280"]
    return [Drawing(r["id"], int(r["label"]), pendigits.render(r, style)) for r in chosen]


def multipart(png: bytes, *, field: str = "image", filename: str = "digit.png") -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data upload of one PNG, as a browser sends it."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return head + png + f"\r\n--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, body: bytes, ctype: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One POST /api/predict on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api/predict", body=body, headers={"content-type": ctype})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and all its children (a server and its workers)."""
    import psutil

    main = psutil.Process(pid)
    total = 0.0
    for p in [main, *main.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:  # a worker that ended meanwhile
            pass
    return total


class Server:
    """``python -m digitpad.cli serve`` on a free loopback port (a real uvicorn subprocess).

    ``start()`` returns the cold start: seconds from spawning the process to the first
    successful prediction of ``probe`` (polled every 10 ms), and sets ``cold_start_cpu_s``, the
    CPU seconds the server's processes used until then. Stopped by PID with SIGTERM.
    """

    def __init__(self, *, workers: int = 1, model: str | None = None, log_path: Path | None = None,
                 env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.cmd = [sys.executable, "-m", "digitpad.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(workers), *args]
        if model:
            self.cmd += ["--model", str(model)]
        self.env = {**os.environ, **ONE_THREAD_ENV, "PYTHONUNBUFFERED": "1", **(env or {})}
        if "DIGITPAD_DATABASE_URL" not in (env or {}):  # never the user's own feedback database
            import tempfile

            self._tmp = tempfile.TemporaryDirectory(prefix="digitpad-bench-")
            self.env["DIGITPAD_DATABASE_URL"] = f"sqlite:///{self._tmp.name}/feedback.db"
        self.log_path = log_path or Path(os.devnull)
        self.proc: subprocess.Popen | None = None
        self.cold_start_cpu_s = 0.0

    def start(self, probe: bytes, *, timeout: float = 120.0) -> float:
        body, ctype = multipart(probe)
        self._log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                status, _ = post(self.port, body, ctype, timeout=5)
                if status == 200:
                    wall = time.perf_counter() - t0
                    self.cold_start_cpu_s = self.cpu_seconds()
                    return wall
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"server did not answer within {timeout:.0f} s; log: {self.log_path}")
            time.sleep(0.01)

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
        if self.workers == 1:
            return [main.pid]
        kids = [p for p in main.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
        return [p.pid for p in kids]

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

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # uvicorn shuts down (and stops its workers) on SIGTERM
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
