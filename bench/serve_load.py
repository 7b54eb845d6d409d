"""Serving speed of ``POST /api/predict`` over loopback, with real canvas drawings.

    .venv/bin/python bench/serve_load.py                          # full run (~3 min)
    .venv/bin/python bench/serve_load.py --seconds 3 --workers 1  # quick look
    .venv/bin/python bench/serve_load.py --profile /tmp/prof      # + py-spy profile of one worker

Load tool: ``wrk`` (Debian: ``apt-get install -y wrk``) with ``bench/wrk_predict.lua``, which
posts multipart uploads of 280x280 transparent-canvas PNGs rendered from real pen-drawn
digits (``digitpad.pendigits``, ``--drawings`` of them, rotating). A C load generator keeps the
client's share of the 2 cores small; a Python client would measure itself.

For each worker count (``--workers 1 2``) the script starts ``digitpad serve`` and reports:

- cold start: process spawn -> first successful prediction;
- sequential latency p50/p95/p99 (one connection, keep-alive);
- throughput (predictions/s), latency and errors at ``--clients 1 8 32`` connections;
- RSS of each serving process after start and after the load (psutil);
- the server's CPU time per request (all its processes), and from it the projected
  throughput with one free core per worker (``workers * 1000 / CPU ms``): unlike the raw
  rate, CPU per request barely depends on what else the machine is running.

Before that it reads every drawing in-process to split the server's own time into decode,
preprocess, inference (the ``timing_ms`` the API returns), so the HTTP overhead is the rest.
Prints a table and one JSON line (``--json FILE`` also writes it). Numbers depend on what else
the machine is doing: BENCHMARKS.md says how loaded it was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import ONE_THREAD_ENV, Drawing, bench_server, canvas_drawings, multipart, pendigits_path  # noqa: E402

from digitpad.harness import ServerProcess  # noqa: E402

LUA = Path(__file__).resolve().parent / "wrk_predict.lua"


def wrk(url: str, body_dir: Path, count: int, ctype: str, *, clients: int, seconds: float,
        path: str = "/api/predict") -> dict:
    """Run wrk once; its Lua ``done`` prints one JSON line of totals and latency percentiles."""
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(LUA), url,
           "--", str(body_dir), str(count), ctype, path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(s for s in out.splitlines() if s.startswith("{"))
    r = json.loads(line)
    secs = r["duration_us"] / 1e6
    errors = r["status_errors"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    return {"clients": clients, "requests": r["requests"], "seconds": round(secs, 2),
            "per_s": round(r["requests"] / secs, 1), "errors": errors, "non_2xx": r["status_errors"],
            "p50_ms": r["p50_us"] / 1000, "p95_ms": r["p95_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "max_ms": r["max_us"] / 1000}


def measured(server: ServerProcess, workers: int, run) -> dict:  # noqa: ANN001
    """A wrk run plus the server's CPU time per request. Unlike throughput, CPU per request
    barely depends on what else the machine runs; ``cores / cpu`` projects the throughput the
    server would reach with the cores to itself (wrk's own share not counted)."""
    before = server.cpu_seconds()
    r = run()
    cpu = server.cpu_seconds() - before
    r["server_cpu_ms"] = round(1000 * cpu / max(r["requests"], 1), 3)
    cores = min(os.cpu_count() or 1, workers)
    r["projected_per_s"] = round(cores * 1000 / r["server_cpu_ms"], 1) if r["server_cpu_ms"] else 0.0
    return r


def in_process_breakdown(drawings: list[Drawing], rounds: int) -> dict:
    """Median ms of each step of the server's own work (``Reader.read``), without HTTP."""
    from digitpad.predict import Predictor
    from digitpad.reading import reader_for
    from digitpad.settings import Settings

    settings = Settings()
    reader = reader_for(settings, Predictor(settings.model, threads=1))
    steps: dict[str, list[float]] = {"decode": [], "preprocess": [], "inference": [], "total": []}
    correct = 0
    for r in range(rounds + 1):
        for d in drawings:
            out = reader.read(d.png, time.perf_counter()).answer()
            if r == 0:  # round 0 is the warm-up; count accuracy there
                correct += out["digit"] == d.label
                continue
            for k in steps:
                steps[k].append(out["timing_ms"][k])
    med = {k: round(float(np.median(v)), 3) for k, v in steps.items()}
    med["preview_and_rest"] = round(med["total"] - med["decode"] - med["preprocess"] - med["inference"], 3)
    med["accuracy"] = round(correct / len(drawings), 4)
    return med


def py_spy_summary(raw: Path) -> dict[str, float]:
    """Share of py-spy samples (collapsed stacks) spent under each step of a request."""
    marks = {"decode": "decode (digitpad/decode.py", "preprocess": "to_mnist", "inference": "run (onnxruntime",
             "multipart": "(digitpad/web/multipart.py", "preview": "encode_gray", "base64": "b64decode"}
    total = 0
    hits = dict.fromkeys(marks, 0)
    idle = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        total += n
        if "select (selectors.py" in stack or "run_forever" in stack.split(";")[-1]:
            idle += n
        for k, m in marks.items():
            if m in stack:
                hits[k] += n
    if not total:
        return {}
    busy = total - idle
    out = {k: round(v / busy, 3) for k, v in hits.items()} if busy else {}
    out["http_and_framework"] = round(1 - sum(out.values()), 3) if busy else 0.0
    out["idle_share_of_samples"] = round(idle / total, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10, help="length of each throughput run")
    ap.add_argument("--sequential-seconds", type=float, default=10, help="length of the one-connection latency run")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--drawings", type=int, default=200, help="distinct drawings the load rotates through")
    ap.add_argument("--rounds", type=int, default=5, help="in-process breakdown: passes over the drawings")
    ap.add_argument("--pendigits", default=None, help="trajectories .jsonl.gz (default: $DIGITPAD_PENDIGITS)")
    ap.add_argument("--model", default=None, help="ONNX model to serve (default: the shipped one)")
    ap.add_argument("--no-access-log", action="store_true", help="serve with --no-access-log (~0.08 ms less a request)")
    ap.add_argument("--profile", type=Path, default=None, help="folder for a py-spy profile of one worker under load")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: install it with `apt-get install -y wrk` (Debian/Ubuntu)")
    os.environ.update(ONE_THREAD_ENV)  # the in-process breakdown too

    from digitpad import engines
    from digitpad.predict import Predictor
    from digitpad.settings import Settings

    drawings = canvas_drawings(pendigits_path(args.pendigits), args.drawings)
    result: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_avg_before": [round(x, 2) for x in os.getloadavg()], "drawings": len(drawings),
        "png_bytes_mean": round(float(np.mean([len(d.png) for d in drawings]))),
        "model": Predictor(Settings().model).version, "preprocess_engine": engines.choose(Settings().preprocess).name,
        "access_log": not args.no_access_log,
    }
    print(f"{len(drawings)} canvas drawings (280x280 RGBA PNG, mean {result['png_bytes_mean']} bytes); "
          f"model {result['model']}, preprocessing {result['preprocess_engine']}; load average {result['load_avg_before']}")

    result["in_process_ms"] = in_process_breakdown(drawings, args.rounds)
    b = result["in_process_ms"]
    print(f"in-process median ms: decode {b['decode']}, preprocess {b['preprocess']}, inference {b['inference']}, "
          f"preview+rest {b['preview_and_rest']}, total {b['total']} (accuracy {b['accuracy']:.1%})")

    with tempfile.TemporaryDirectory(prefix="digitpad-load-") as tmp:
        body_dir = Path(tmp)
        ctype = ""
        for k, d in enumerate(drawings):
            body, ctype = multipart(d.png)
            (body_dir / f"{k:04d}.bin").write_bytes(body)

        result["runs"] = []
        for w in args.workers:
            run: dict = {"workers": w}
            with bench_server(*(("--no-access-log",) if args.no_access_log else ()), workers=w, model=args.model,
                              log_dir=body_dir) as server:
                run["cold_start_s"] = round(server.cold_start_s, 3)
                run["cold_start_cpu_s"] = server.cold_start_cpu_s
                run["rss_mb_start"] = server.rss_mb()
                wrk(server.url, body_dir, len(drawings), ctype, clients=8, seconds=2)  # warm-up
                print(f"\nworkers={w}: cold start {run['cold_start_s']:.2f} s ({run['cold_start_cpu_s']:.2f} CPU s), RSS after start {run['rss_mb_start']} MB")
                seq = measured(server, w, lambda: wrk(server.url, body_dir, len(drawings), ctype, clients=1,
                                                   seconds=args.sequential_seconds))
                run["sequential"] = seq
                print(f"  sequential: p50 {seq['p50_ms']:.2f} ms, p95 {seq['p95_ms']:.2f} ms, "
                      f"p99 {seq['p99_ms']:.2f} ms ({seq['requests']} requests, {seq['errors']} errors, "
                      f"{seq['server_cpu_ms']:.2f} server CPU ms each)")
                run["load"] = []
                print(f"  {'clients':>7} {'pred/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'requests':>8} "
                      f"{'CPU ms/req':>10} {'projected pred/s':>16}")
                for c in args.clients:
                    spy = None
                    if args.profile is not None and c == max(args.clients) and w == args.workers[0]:
                        spy = start_py_spy(server.worker_pids()[0], args.profile, args.seconds)
                    r = measured(server, w, lambda c=c: wrk(server.url, body_dir, len(drawings), ctype, clients=c,
                                                         seconds=args.seconds))
                    run["load"].append(r)
                    print(f"  {c:>7} {r['per_s']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['errors']:>6} "
                          f"{r['requests']:>8} {r['server_cpu_ms']:>10.2f} {r['projected_per_s']:>16.0f}")
                    if spy is not None:
                        spy.wait(args.seconds + 30)
                        run["profile_shares"] = py_spy_summary(args.profile / "profile.txt")
                        print(f"  py-spy (share of busy samples): {run['profile_shares']}")
                run["rss_mb_end"] = server.rss_mb()
                print(f"  RSS after load: {run['rss_mb_end']} MB per serving process")
                assert server.alive(), f"server died; log in {body_dir}"
            result["runs"].append(run)
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    line = json.dumps(result)
    print("\n" + line)
    if args.json:
        args.json.write_text(line + "\n")


def start_py_spy(pid: int, folder: Path, seconds: float) -> subprocess.Popen | None:
    """py-spy (``pip install py-spy``) sampling one worker for the length of one load run."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("  (py-spy not installed: pip install py-spy)")
        return None
    folder.mkdir(parents=True, exist_ok=True)
    common = ["--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "250", "--nonblocking"]
    return subprocess.Popen([exe, "record", *common, "--format", "raw", "-o", str(folder / "profile.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
