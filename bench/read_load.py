"""POST /api/read under load: a 6-character number over HTTP, sequential latency and throughput
with 1 and 2 workers, and the memory of each worker.

    .venv/bin/python bench/read_load.py                       # needs Debian's wrk
    .venv/bin/python bench/read_load.py --workers 1 --seconds 5

Numbers are composed from held-out writers' own characters (``digitpad.compose``, spaced
layout, the page's canvas scheme): 6 characters, digits with one separator in five. A real
``digitpad serve`` (the package's harness) per worker count; wrk posts the prepared multipart
bodies (``wrk_predict.lua`` with the path /api/read), first one connection (latency), then
``--clients`` (throughput). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import wrk  # noqa: E402
from serving import bench_server, multipart  # noqa: E402


def numbers(n: int, unipen: str, pendigits: str) -> list[bytes]:
    from digitpad import compose

    hands = compose.load_hands(unipen, pendigits, split="test")
    r = random.Random(0)
    out = []
    while len(out) < n:
        hand = r.choice(hands)
        text = "".join(r.choice("0123456789") for _ in range(6))
        seps = sorted(set("-./:") & hand.alphabet)
        if seps and r.random() < 0.2:
            text = text[:3] + r.choice(seps) + text[4:]
        out.append(compose.compose(hand, text, "spaced", "pad", seed=len(out)).image)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--numbers", type=int, default=60)
    ap.add_argument("--unipen", default=os.environ.get("DIGITPAD_UNIPEN"))
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    if not args.unipen or not args.pendigits:
        sys.exit("set DIGITPAD_UNIPEN and DIGITPAD_PENDIGITS (or pass --unipen, --pendigits)")
    images = numbers(args.numbers, args.unipen, args.pendigits)
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "numbers": len(images), "runs": []}
    with tempfile.TemporaryDirectory(prefix="digitpad-read-") as tmp:
        body_dir = Path(tmp)
        ctype = ""
        for k, png in enumerate(images):
            body, ctype = multipart(png)
            (body_dir / f"{k:04d}.bin").write_bytes(body)
        for w in args.workers:
            with bench_server(workers=w, env={"DIGITPAD_FEEDBACK": "false"}, log_dir=body_dir) as server:
                run = wrk(server.url, body_dir, len(images), ctype, clients=2, seconds=2, path="/api/read")  # warm-up
                seq = wrk(server.url, body_dir, len(images), ctype, clients=1, seconds=args.seconds, path="/api/read")
                load = wrk(server.url, body_dir, len(images), ctype, clients=args.clients, seconds=args.seconds,
                           path="/api/read")
                run = {"workers": w, "sequential": seq, "load": load, "rss_mb": server.rss_mb()}
                assert server.alive(), server.log()
            result["runs"].append(run)
            print(f"workers={w}: sequential p50 {seq['p50_ms']:.2f} ms (p99 {seq['p99_ms']:.2f}), "
                  f"{args.clients} clients {load['per_s']:.0f} numbers/s (p50 {load['p50_ms']:.1f} ms), "
                  f"errors {seq['errors'] + load['errors']}, RSS per worker {run['rss_mb']} MB")
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    line = json.dumps(result)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
