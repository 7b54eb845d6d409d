"""Shared pieces of the serving benchmarks (``serve_load.py``, ``soak.py``, ``compare_serve.py``):
realistic canvas drawings and multipart bodies. The server itself is the package's harness
(``digitpad.harness.ServerProcess``), the same one the tests use.

Not a script: the benches import it (they put ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import http.client
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from digitpad.harness import ONE_THREAD_ENV, ServerProcess, free_port, tree_cpu_seconds

__all__ = ["BOUNDARY", "ONE_THREAD_ENV", "Drawing", "canvas_drawings", "free_port", "multipart", "pendigits_path",
           "post", "bench_server", "tree_cpu_seconds"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PENDIGITS = REPO.parent / "shared" / "data" / "pendigits" / "trajectories-dev.jsonl.gz"
BOUNDARY = "----digitpadbench7MA4YWxkTrZu0gW"

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


def post(port: int, body: bytes, ctype: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One POST /api/predict on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api/predict", body=body, headers={"content-type": ctype})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def bench_server(*args: str, workers: int = 1, model: str | None = None, log_dir: Path | None = None,
                 env: dict[str, str] | None = None) -> ServerProcess:
    """``with bench_server(workers=2) as server:``, a ``digitpad serve`` (the package's harness)
    whose ``cold_start_s``, ``cold_start_cpu_s``, ``rss_mb()`` and ``worker_pids()`` the benches report."""
    cmd = ["--workers", str(workers), *(["--model", str(model)] if model else []), *args]
    return ServerProcess(*cmd, log_dir=log_dir, env=env, startup_s=120)
