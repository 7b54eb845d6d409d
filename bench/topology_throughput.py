"""Throughput of the deployment topology (nginx + 3 replicas + PostgreSQL) against one server.

    .venv/bin/python bench/topology_throughput.py               # ~2 min
    .venv/bin/python bench/topology_throughput.py --seconds 5 --clients 8

Setups, each loaded by ``wrk`` (Debian: ``apt-get install -y wrk``) with POST /api/predict of real
canvas drawings (``bench/wrk_predict.lua``), ``--clients`` keep-alive connections, ``--seconds`` each:

- ``direct-1``: one ``digitpad serve`` (1 worker), no proxy: the unit a replica is;
- ``direct-2``: one server with 2 workers (one per core of this machine);
- ``proxy-3``: nginx (deploy/nginx/digitpad.conf.template) in front of 3 one-worker replicas
  sharing one PostgreSQL (migrated by ``digitpad db upgrade``, replicas with DIGITPAD_MIGRATE=false),
  as deploy/compose.yaml runs it.

Reports requests/s, latency, errors, and CPU milliseconds per request of the replicas and of
nginx (psutil, all their processes): CPU per request barely depends on what else the machine
runs, so ``cores * 1000 / CPU ms`` projects what each setup does with cores of its own. On a
2-core machine three replicas and nginx share 2 cores, so ``proxy-3`` cannot beat ``direct-2``
here; what it costs is nginx's CPU per request and one more hop of latency.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import NginxProxy, PostgresCluster  # noqa: E402
from serve_load import wrk  # noqa: E402
from serving import bench_server, canvas_drawings, multipart, pendigits_path, tree_cpu_seconds  # noqa: E402


def cpu(pids: list[int]) -> float:
    return sum(tree_cpu_seconds(p) for p in pids)


def run_load(url: str, body_dir: Path, count: int, ctype: str, clients: list[int], seconds: float,
             replicas: list[int], proxy: list[int] | None) -> list[dict]:
    wrk(url, body_dir, count, ctype, clients=8, seconds=2)  # warm-up
    out = []
    for c in clients:
        app0, nginx0 = cpu(replicas), cpu(proxy) if proxy else 0.0
        r = wrk(url, body_dir, count, ctype, clients=c, seconds=seconds)
        app, nginx = cpu(replicas) - app0, (cpu(proxy) - nginx0) if proxy else 0.0
        n = max(r["requests"], 1)
        r["app_cpu_ms"] = round(1000 * app / n, 3)
        r["nginx_cpu_ms"] = round(1000 * nginx / n, 3)
        out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL for the replicas (default: a throwaway cluster of Debian's PostgreSQL)")
    ap.add_argument("--pendigits", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: install it with `apt-get install -y wrk` (Debian/Ubuntu)")

    drawings = canvas_drawings(pendigits_path(args.pendigits), 200)
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
                    "load_avg_before": [round(x, 2) for x in os.getloadavg()], "runs": {}}
    print(f"load average {result['load_avg_before']}")
    header = f"{'setup':>8} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'app CPU ms':>10} {'nginx CPU ms':>12}"

    def show(name: str, rows: list[dict]) -> None:
        for r in rows:
            print(f"{name:>8} {r['clients']:>7} {r['per_s']:>7.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
                  f"{r['errors']:>6} {r['app_cpu_ms']:>10.2f} {r['nginx_cpu_ms']:>12.2f}")

    with tempfile.TemporaryDirectory(prefix="digitpad-topology-") as tmp:
        body_dir, ctype = Path(tmp), ""
        for k, d in enumerate(drawings):
            body, ctype = multipart(d.png)
            (body_dir / f"{k:04d}.bin").write_bytes(body)
        print(header)
        for workers in (1, 2):
            with bench_server(workers=workers) as server:
                rows = run_load(server.url, body_dir, len(drawings), ctype, args.clients, args.seconds,
                                [server.proc.pid], None)
            result["runs"][f"direct-{workers}"] = rows
            show(f"direct-{workers}", rows)

        cluster = None if args.database_url else PostgresCluster()
        db_url = args.database_url or cluster.__enter__()
        try:
            r = subprocess.run([sys.executable, "-m", "digitpad.cli", "db", "upgrade"], capture_output=True, text=True,
                               env={**os.environ, "DIGITPAD_DATABASE_URL": db_url}, timeout=120)
            if r.returncode != 0:
                sys.exit(r.stderr)
            env = {"DIGITPAD_DATABASE_URL": db_url, "DIGITPAD_MIGRATE": "false"}
            replicas = [bench_server(workers=1, env=env) for _ in range(args.replicas)]
            try:
                for s in replicas:
                    s.start()
                with NginxProxy([s.port for s in replicas]) as proxy:
                    rows = run_load(proxy.url, body_dir, len(drawings), ctype, args.clients, args.seconds,
                                    [s.proc.pid for s in replicas], [proxy.proc.pid])
            finally:
                for s in replicas:
                    s.stop()
        finally:
            if cluster is not None:
                cluster.__exit__()
        name = f"proxy-{args.replicas}"
        result["runs"][name] = rows
        show(name, rows)
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    line = json.dumps(result)
    print("\n" + line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
