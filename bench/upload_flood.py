"""Memory and goodput of one ``digitpad serve`` worker under large uploads (issue 19, finding 3).

    .venv/bin/python bench/upload_flood.py                                 # ~2 min
    .venv/bin/python bench/upload_flood.py --concurrency 40 --flood-seconds 5 --baseline-seconds 3

1. **RSS under concurrent large uploads.** For each ``--concurrency`` N (40, 80), N clients at
   once each POST one ``--upload-mb`` (9.9 MB, under the 10 MB default limit) body to
   /api/predict: a real canvas PNG with random bytes appended (Pillow reads the image and ignores
   the rest, so the body, not the decoding, is what is measured: what a stranger can send). The
   server's RSS is sampled every 20 ms: peak and growth over the idle RSS. Every answer's status
   and time is recorded (the client gives up after ``--client-timeout`` s): the target is every
   request answered 200, 413 or 503 within it, and <= 600 MB per worker.
2. **Goodput of small requests during a flood.** ``--small-clients`` clients post canvas drawings
   (~5 KB) for ``--baseline-seconds`` alone, then for ``--flood-seconds`` while
   ``--flood-clients`` clients post large bodies in a loop: the share of small requests answered
   200, their rate and p50/p99 latency, alone and under the flood. Measured twice: by clients in
   this process (a new connection each; they share an event loop with the flood's clients, which
   push gigabytes, so their figures include this process's own congestion), and by wrk in a
   process of its own (kept-alive connections), which measures the server.

Each request opens its own connection (a raw HTTP/1.1 client on asyncio: cheap, so the 2 cores
go to the server). Prints a table per phase and one JSON line (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import wrk  # noqa: E402
from serving import bench_server, canvas_drawings, multipart, pendigits_path  # noqa: E402

from digitpad.harness import ServerProcess  # noqa: E402

CHUNK = 256 * 1024


async def post(port: int, body: bytes, ctype: str, timeout: float) -> tuple[int | None, float, str | None]:
    """One POST /api/predict on a new connection: (status or None, seconds, error)."""
    t0 = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
            view = memoryview(body)
            try:
                for i in range(0, len(view), CHUNK):  # chunks: the client holds no copy of the body
                    writer.write(view[i:i + CHUNK])
                    await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                pass  # the server answered before the body was all sent (413, 503): read that answer
            line = await reader.readline()
            if not line:
                return None, time.perf_counter() - t0, "closed without an answer"
            status = int(line.split()[1])
            await reader.read()  # the rest, to the close
            return status, time.perf_counter() - t0, None
    except TimeoutError:
        return None, time.perf_counter() - t0, "client timeout"
    except OSError as e:
        return None, time.perf_counter() - t0, type(e).__name__
    finally:
        if writer is not None:
            writer.close()


def large_body(png: bytes, mb: float) -> tuple[bytes, str]:
    """A multipart upload of ``png`` padded with random bytes to ``mb`` megabytes in all."""
    head, ctype = multipart(png)
    pad = int(mb * 1e6) - len(head)
    padded = png + np.random.default_rng(0).integers(0, 256, max(pad, 0), dtype=np.uint8).tobytes()
    return multipart(padded)


async def sample_rss(pid: int, stop: asyncio.Event, out: list[float]) -> None:
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        out.append(proc.memory_info().rss / 1e6)
        await asyncio.sleep(0.02)


def summary(results: list[tuple[int | None, float, str | None]], timeout: float) -> dict:
    statuses = Counter(str(s) if s is not None else (e or "error") for s, _, e in results)
    times = np.array([t for _, t, _ in results]) if results else np.zeros(1)
    allowed = sum(1 for s, t, _ in results if s in (200, 413, 503) and t <= timeout)
    return {"requests": len(results), "statuses": dict(statuses), "answered_200_413_503_in_time": allowed,
            "ok_200": statuses.get("200", 0), "p50_s": round(float(np.percentile(times, 50)), 3),
            "p99_s": round(float(np.percentile(times, 99)), 3), "max_s": round(float(times.max()), 3)}


async def concurrent_uploads(server: ServerProcess, body: bytes, ctype: str, n: int, timeout: float) -> dict:
    stop, rss = asyncio.Event(), []
    sampler = asyncio.create_task(sample_rss(server.proc.pid, stop, rss))
    await asyncio.sleep(0.2)
    idle = rss[-1]
    results = await asyncio.gather(*(post(server.port, body, ctype, timeout) for _ in range(n)))
    await asyncio.sleep(0.5)
    stop.set()
    await sampler
    return {"clients": n, "rss_idle_mb": round(idle, 1), "rss_peak_mb": round(max(rss), 1),
            "rss_growth_mb": round(max(rss) - idle, 1), "rss_after_mb": round(rss[-1], 1),
            "growth_per_upload_mb": round((max(rss) - idle) / n, 1), **summary(results, timeout)}


async def loop_clients(port: int, bodies: list[tuple[bytes, str]], clients: int, seconds: float,
                       timeout: float) -> list[tuple[int | None, float, str | None]]:
    deadline = time.monotonic() + seconds
    out: list = []

    async def one(k: int) -> None:
        i = k
        while time.monotonic() < deadline:
            body, ctype = bodies[i % len(bodies)]
            out.append(await post(port, body, ctype, timeout))
            i += clients

    await asyncio.gather(*(one(k) for k in range(clients)))
    return out


async def goodput(server: ServerProcess, small: list[tuple[bytes, str]], large: tuple[bytes, str], args) -> dict:  # noqa: ANN001
    base = await loop_clients(server.port, small, args.small_clients, args.baseline_seconds, args.client_timeout)
    stop, rss = asyncio.Event(), []
    sampler = asyncio.create_task(sample_rss(server.proc.pid, stop, rss))
    flood_task = asyncio.create_task(loop_clients(server.port, [large], args.flood_clients, args.flood_seconds,
                                                  args.client_timeout))
    await asyncio.sleep(1.0)  # the flood first
    during = await loop_clients(server.port, small, args.small_clients, args.flood_seconds - 1.0, args.client_timeout)
    flood = await flood_task
    stop.set()
    await sampler
    out = {"small_alone": summary(base, args.client_timeout), "small_during_flood": summary(during, args.client_timeout),
           "flood": summary(flood, args.client_timeout), "rss_peak_mb": round(max(rss), 1)}
    out["wrk_alone"], out["wrk_during_flood"] = await wrk_goodput(server, small, large, args)
    out["small_alone"]["per_s"] = round(len(base) / args.baseline_seconds, 1)
    out["small_during_flood"]["per_s"] = round(len(during) / (args.flood_seconds - 1.0), 1)
    for k in ("small_alone", "small_during_flood"):
        ms = np.array([t for s, t, _ in (base if k == "small_alone" else during) if s == 200]) * 1000
        out[k]["p50_ms_200"] = round(float(np.percentile(ms, 50)), 1) if len(ms) else None
        out[k]["p99_ms_200"] = round(float(np.percentile(ms, 99)), 1) if len(ms) else None
    return out


async def wrk_goodput(server: ServerProcess, small: list[tuple[bytes, str]], large: tuple[bytes, str],
                      args) -> tuple[dict, dict]:  # noqa: ANN001
    """wrk (its own process) posting the drawings: alone, then while this process floods."""
    with tempfile.TemporaryDirectory() as tmp:
        for k, (body, _) in enumerate(small):
            (Path(tmp) / f"{k:04d}.bin").write_bytes(body)
        ctype = small[0][1]  # (one boundary for all the bench's multipart bodies)
        alone = await asyncio.to_thread(wrk, server.url, Path(tmp), len(small), ctype, clients=args.small_clients,
                                        seconds=args.baseline_seconds)
        flood_task = asyncio.create_task(loop_clients(server.port, [large], args.flood_clients, args.flood_seconds,
                                                      args.client_timeout))
        await asyncio.sleep(1.0)
        during = await asyncio.to_thread(wrk, server.url, Path(tmp), len(small), ctype, clients=args.small_clients,
                                         seconds=args.flood_seconds - 2.0)
        await flood_task
    return alone, during


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[40, 80])
    ap.add_argument("--upload-mb", type=float, default=9.9, help="size of a large body (the default limit is 10 MB)")
    ap.add_argument("--client-timeout", type=float, default=30.0)
    ap.add_argument("--small-clients", type=int, default=4)
    ap.add_argument("--flood-clients", type=int, default=40)
    ap.add_argument("--baseline-seconds", type=float, default=8)
    ap.add_argument("--flood-seconds", type=float, default=15)
    ap.add_argument("--pendigits", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    drawings = canvas_drawings(pendigits_path(args.pendigits), 64)
    small = [multipart(d.png) for d in drawings]
    large = large_body(drawings[0].png, args.upload_mb)
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M"),
                    "load_avg_before": [round(x, 2) for x in os.getloadavg()], "upload_bytes": len(large[0]),
                    "client_timeout_s": args.client_timeout, "workers": 1}
    print(f"one worker; large body {len(large[0]) / 1e6:.1f} MB; load average {result['load_avg_before']}")
    result["concurrent"] = []
    print(f"\n{'clients':>7} {'idle MB':>8} {'peak MB':>8} {'MB/upload':>9} {'200':>5} {'413':>5} {'503':>5} "
          f"{'other':>6} {'in time':>8} {'p50 s':>6} {'max s':>6}")
    for n in args.concurrency:
        with bench_server(workers=1) as server:  # a fresh server per run: its RSS starts from idle
            r = asyncio.run(concurrent_uploads(server, *large, n, args.client_timeout))
            assert server.alive(), "the server died"
        result["concurrent"].append(r)
        st = r["statuses"]
        other = r["requests"] - sum(st.get(k, 0) for k in ("200", "413", "503"))
        print(f"{n:>7} {r['rss_idle_mb']:>8.0f} {r['rss_peak_mb']:>8.0f} {r['growth_per_upload_mb']:>9.1f} "
              f"{st.get('200', 0):>5} {st.get('413', 0):>5} {st.get('503', 0):>5} {other:>6} "
              f"{r['answered_200_413_503_in_time']:>8} {r['p50_s']:>6.2f} {r['max_s']:>6.2f}   {st}")

    with bench_server(workers=1) as server:
        g = asyncio.run(goodput(server, small, large, args))
        assert server.alive(), "the server died"
    result["goodput"] = g
    a, d, f = g["small_alone"], g["small_during_flood"], g["flood"]
    print(f"\nsmall drawings, {args.small_clients} clients: alone {a['per_s']}/s, {a['ok_200']}/{a['requests']} "
          f"answered 200, p50 {a['p50_ms_200']} ms, p99 {a['p99_ms_200']} ms")
    print(f"  while {args.flood_clients} clients flood {len(large[0]) / 1e6:.1f} MB uploads: {d['per_s']}/s, "
          f"{d['ok_200']}/{d['requests']} answered 200 ({d['statuses']}), p50 {d['p50_ms_200']} ms, "
          f"p99 {d['p99_ms_200']} ms")
    print(f"  the flood: {f['requests']} uploads, {f['statuses']}; server RSS peak {g['rss_peak_mb']} MB")
    wa, wd = g["wrk_alone"], g["wrk_during_flood"]
    print(f"wrk, {args.small_clients} kept-alive connections: alone {wa['per_s']}/s (p50 {wa['p50_ms']:.1f} ms, "
          f"p99 {wa['p99_ms']:.1f} ms, {wa['errors']} errors); during the flood {wd['per_s']}/s "
          f"(p50 {wd['p50_ms']:.1f} ms, p99 {wd['p99_ms']:.1f} ms, {wd['errors']} errors)")
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    line = json.dumps(result)
    print("\n" + line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
