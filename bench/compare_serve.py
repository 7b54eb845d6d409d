"""Two checkouts of digitpad served side by side, measured in alternation: old against new in the
same moments of a shared, noisy machine (where back-to-back runs of one build vary by ~1.4x).

    git worktree add ../digitpad-old 90ab5be
    .venv/bin/python bench/compare_serve.py --old ../digitpad-old            # new = this checkout
    .venv/bin/python bench/compare_serve.py --old ../a --new ../b --rounds 9 --seconds 4
    .venv/bin/python bench/compare_serve.py --old ../digitpad-old --workers 2 --clients 8 32

Each checkout runs ``python -m digitpad.cli serve`` (``--workers`` processes, default one; this
interpreter, its own package first on the path, its own shipped model); then, round after round,
wrk posts the bench's canvas drawings to one server and then the other, sequentially (1
connection) and at each ``--clients`` count (default 8). Reported per checkout: medians over
rounds of sequential p50 latency, requests/s under load, and server CPU ms per request (psutil,
all the server's processes), and the new/old ratios. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import canvas_drawings, multipart, pendigits_path, tree_cpu_seconds  # noqa: E402

from digitpad.harness import HarnessError, ServerProcess  # noqa: E402

LUA = Path(__file__).resolve().parent / "wrk_predict.lua"


def wrk_once(port: int, body_dir: Path, count: int, ctype: str, clients: int, seconds: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA),
           f"http://127.0.0.1:{port}", "--", str(body_dir), str(count), ctype]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="checkout to compare against")
    ap.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1], help="default: this checkout")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4, help="per wrk run")
    ap.add_argument("--workers", type=int, default=1, help="worker processes of each server")
    ap.add_argument("--clients", type=int, nargs="+", default=[8], help="connections of the load runs")
    ap.add_argument("--pendigits", default=os.environ.get("DIGITPAD_PENDIGITS"))
    args = ap.parse_args()
    if "DIGITPAD_MODEL" in os.environ:
        sys.exit("unset DIGITPAD_MODEL: each checkout serves its own shipped model")

    drawings = canvas_drawings(pendigits_path(args.pendigits), 200)
    servers: dict[str, ServerProcess] = {}
    with tempfile.TemporaryDirectory(prefix="digitpad-compare-") as tmp:
        body_dir = Path(tmp)
        for k, d in enumerate(drawings):
            body, ctype = multipart(d.png)
            (body_dir / f"{k:04d}.bin").write_bytes(body)
        try:
            for name, root in (("old", args.old), ("new", args.new)):
                # Each checkout's own package first on the path, run from its own folder.
                servers[name] = ServerProcess("--workers", str(args.workers), log_dir=body_dir, cwd=root,
                                              env={"DIGITPAD_FEEDBACK": "false", "PYTHONPATH": str(root.resolve())})
                try:
                    servers[name].start()
                except HarnessError as e:
                    sys.exit(f"the {name} server did not start: {e}")
            models = {name: json.loads(urllib.request.urlopen(s.url + "/healthz").read())["model"]
                      for name, s in servers.items()}
            kinds = [("sequential", 1), *((f"c{c}", c) for c in args.clients)]
            runs: dict[str, dict[str, list[dict]]] = {n: {kind: [] for kind, _ in kinds} for n in servers}
            for _ in range(args.rounds):
                for kind, clients in kinds:
                    for name, s in servers.items():
                        cpu0 = tree_cpu_seconds(s.proc.pid)
                        r = wrk_once(s.port, body_dir, len(drawings), ctype, clients, args.seconds)
                        cpu = tree_cpu_seconds(s.proc.pid) - cpu0
                        runs[name][kind].append({"per_s": r["requests"] / (r["duration_us"] / 1e6),
                                                 "p50_ms": r["p50_us"] / 1000, "cpu_ms": 1000 * cpu / r["requests"],
                                                 "errors": r["status_errors"] + r["read_errors"] + r["timeouts"]})
        finally:
            for s in servers.values():  # only the processes this script started, by PID
                s.stop()

    summary = {}
    for name, d in runs.items():
        summary[name] = {"model": models[name], "sequential_p50_ms": round(median([x["p50_ms"] for x in d["sequential"]]), 3),
                         "sequential_cpu_ms": round(median([x["cpu_ms"] for x in d["sequential"]]), 3)}
        for kind in [k for k in d if k != "sequential"]:
            summary[name][f"{kind}_per_s"] = round(median([x["per_s"] for x in d[kind]]))
            summary[name][f"{kind}_cpu_ms"] = round(median([x["cpu_ms"] for x in d[kind]]), 3)
        summary[name]["errors"] = sum(x["errors"] for k in d for x in d[k])
        print(f"{name}: {summary[name]}")
    o, n = summary["old"], summary["new"]
    ratios = {"sequential_p50": round(n["sequential_p50_ms"] / o["sequential_p50_ms"], 2)}
    for key in n:
        if key.startswith("c") and (key.endswith("_per_s") or key.endswith("_cpu_ms")):
            ratios[key] = round(n[key] / o[key], 2)
    print(f"new / old: {ratios}")
    print(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "load_avg": [round(x, 2) for x in os.getloadavg()],
                      "workers": args.workers, "rounds": args.rounds, "seconds": args.seconds, "summary": summary,
                      "ratios": ratios}))


if __name__ == "__main__":
    main()
