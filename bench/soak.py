"""Soak test: many concurrent clients mixing good and bad requests against a real server.

    .venv/bin/python bench/soak.py                        # the full run: 60 s, 32 clients, 2 workers
    .venv/bin/python bench/soak.py --seconds 10 --workers 1

``tests/test_soak.py`` runs ``run_soak`` in a shortened mode. The server (``digitpad serve`` on a
free loopback port) gets ``--clients`` concurrent keep-alive connections for ``--seconds``; each
client sends, at random, a good request (a real pen-drawn digit as a 280x280 canvas PNG,
multipart or JSON) or one of a set of bad ones. Passes when:

- no response is a 5xx and no request fails at the transport level;
- every good request gets exactly the answer computed in-process beforehand for *that*
  drawing (digit, probabilities, and the 28x28 preview, which differs for every drawing: an
  answer swapped between concurrent requests cannot pass);
- every bad request gets its expected 4xx;
- the RSS of each serving process grows less than ``--max-rss-growth`` (10%) from the end of
  the warm-up to the end of the run.

Prints a summary and one JSON line; exits 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import BOUNDARY, ONE_THREAD_ENV, Drawing, bench_server, canvas_drawings, multipart, pendigits_path  # noqa: E402


@dataclass(frozen=True)
class Good:
    drawing: Drawing
    digit: int
    probabilities: list[float]
    preview: str


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    body: bytes
    ctype: str | None
    status: int


def reference_answers(drawings: list[Drawing], *, min_confidence: float) -> list[Good]:
    """What the server must answer for each drawing, computed in-process by the same code and
    model. Only drawings read correctly and confidently are kept, so a wrong digit is a bug."""
    from digitpad.predict import Predictor
    from digitpad.reading import reader_for
    from digitpad.settings import Settings

    settings = Settings()
    reader = reader_for(settings, Predictor(settings.model, threads=1))
    out = []
    for d in drawings:
        r = reader.read(d.png).answer()
        if r["digit"] == d.label and r["confidence"] >= min_confidence:
            out.append(Good(d, r["digit"], r["probabilities"], r["preview"]))
    return out


def bad_requests() -> list[Bad]:
    """Small malformed requests with the status each must get."""
    from PIL import Image

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    buf = io.BytesIO()
    Image.new("L", (120, 120), 255).save(buf, "PNG")
    png = buf.getvalue()
    buf = io.BytesIO()
    Image.new("L", (1, 1), 0).save(buf, "PNG")
    tiny = buf.getvalue()
    form = f"multipart/form-data; boundary={BOUNDARY}"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
    return [
        Bad("bad JSON", "POST", b'{"image": ', "application/json", 400),
        Bad("invalid UTF-8", "POST", b'{"image": "\xff\xfe"}', "application/json", 400),
        Bad("not base64", "POST", b'{"image": "***"}', "application/json", 400),
        Bad("no image field", "POST", b'{"picture": "abc"}', "application/json", 422),
        Bad("image is a number", "POST", b'{"image": 5}', "application/json", 422),
        Bad("text data URL", "POST", json.dumps({"image": "data:text/plain;base64,aGk="}).encode(), "application/json",
            415),
        Bad("no content type", "POST", b"abc", None, 415),
        Bad("truncated PNG", "POST", multipart(png[: len(png) // 2])[0], form, 400),
        Bad("random bytes", "POST", multipart(random.Random(0).randbytes(3000))[0], form, 400),
        Bad("50,000 x 50,000 PNG header", "POST", multipart(bomb)[0], form, 413),
        Bad("SVG", "POST", multipart(svg)[0], form, 415),
        Bad("multipart without closing boundary", "POST", multipart(png)[0][:-10], form, 400),
        Bad("wrong field name", "POST", multipart(png, field="file")[0], form, 422),
        Bad("GET", "GET", b"", None, 405),
        Bad("1x1 PNG (a valid, empty image)", "POST", multipart(tiny)[0], form, 200),
    ]


class Tally:
    def __init__(self) -> None:
        self.good = self.bad = self.server_errors = self.transport_errors = 0
        self.wrong: list[str] = []  # good requests with a wrong answer (first few kept)
        self.wrong_count = 0
        self.unexpected: list[str] = []  # bad requests with an unexpected status
        self.unexpected_count = 0
        self.statuses: dict[int, int] = {}

    def fail(self, kind: str, text: str) -> None:
        lst = self.wrong if kind == "wrong" else self.unexpected
        if kind == "wrong":
            self.wrong_count += 1
        else:
            self.unexpected_count += 1
        if len(lst) < 10:
            lst.append(text)


async def client_loop(http, goods: list[Good], bads: list[Bad], bad_share: float, stop_at: float,
                      max_requests: int, tally: Tally, rng: random.Random) -> None:
    import httpx

    while time.monotonic() < stop_at and tally.good + tally.bad < max_requests:
        try:
            if rng.random() < bad_share:
                b = rng.choice(bads)
                headers = {"content-type": b.ctype} if b.ctype else {}
                r = await http.request(b.method, "/api/predict", content=b.body or None, headers=headers)
                tally.bad += 1
                if r.status_code != b.status:
                    tally.fail("unexpected", f"{b.name}: {r.status_code} (expected {b.status}) {r.text[:200]}")
                elif b.status != 200 and "error" not in r.json():
                    tally.fail("unexpected", f"{b.name}: no error object: {r.text[:200]}")
            else:
                g = rng.choice(goods)
                if rng.random() < 0.5:
                    r = await http.post("/api/predict", files={"image": ("digit.png", g.drawing.png, "image/png")})
                else:
                    data_url = "data:image/png;base64," + base64.b64encode(g.drawing.png).decode()
                    r = await http.post("/api/predict", json={"image": data_url})
                tally.good += 1
                if r.status_code != 200:
                    tally.fail("wrong", f"{g.drawing.id}: status {r.status_code} {r.text[:200]}")
                else:
                    body = r.json()
                    same = (body["digit"] == g.digit and body["preview"] == g.preview
                            and all(abs(a - b) <= 1e-5 for a, b in zip(body["probabilities"], g.probabilities)))
                    if not same:
                        tally.fail("wrong", f"{g.drawing.id} (digit {g.digit}): got digit {body['digit']}, "
                                            f"confidence {body['confidence']}, preview differs: "
                                            f"{body['preview'] != g.preview}")
            tally.statuses[r.status_code] = tally.statuses.get(r.status_code, 0) + 1
            if r.status_code >= 500:
                tally.server_errors += 1
        except httpx.HTTPError as e:
            tally.transport_errors += 1
            if len(tally.unexpected) < 10:
                tally.unexpected.append(f"transport error: {type(e).__name__}: {e}")


async def _drive(url: str, goods: list[Good], bads: list[Bad], *, clients: int, seconds: float, bad_share: float,
                 max_requests: int, seed: int, on_warm, warmup_s: float) -> Tally:
    import httpx

    tally = Tally()
    stop_at = time.monotonic() + seconds
    # Idle connections are dropped after 2 s, well before the server's 5 s keep-alive timeout: a
    # request sent on a connection the server is closing at that instant fails (a race every
    # keep-alive client has; browsers retry it), which is not what this test looks for.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        tasks = [asyncio.create_task(client_loop(http, goods, bads, bad_share, stop_at, max_requests, tally,
                                                 random.Random(seed + i))) for i in range(clients)]
        await asyncio.sleep(min(warmup_s, seconds / 2))
        on_warm()
        await asyncio.gather(*tasks)
    return tally


def run_soak(*, seconds: float = 60, clients: int = 32, workers: int = 2, drawings: int = 120,
             bad_share: float = 0.3, max_requests: int = 1_000_000, max_rss_growth: float = 0.10,
             warmup_s: float = 3.0, min_confidence: float = 0.9, pendigits: str | Path | None = None,
             model: str | None = None, log_dir: Path | None = None, seed: int = 0) -> dict:
    """Run the soak; return a report whose ``ok`` says whether every check passed."""
    path = pendigits_path(str(pendigits) if pendigits else None)
    goods = reference_answers(canvas_drawings(path, drawings), min_confidence=min_confidence)
    if len(goods) < 10:
        raise RuntimeError(f"only {len(goods)} drawings are read confidently: is the model right?")
    bads = bad_requests()
    report: dict = {"seconds": seconds, "clients": clients, "workers": workers, "good_drawings": len(goods),
                    "bad_kinds": len(bads)}
    with bench_server(workers=workers, model=model, log_dir=log_dir) as server:
        report["cold_start_s"] = round(server.cold_start_s, 2)
        report["rss_mb_start"] = server.rss_mb()
        warm: dict = {}
        t0 = time.monotonic()
        tally = asyncio.run(_drive(server.url, goods, bads, clients=clients, seconds=seconds, bad_share=bad_share,
                                   max_requests=max_requests, seed=seed, warmup_s=warmup_s,
                                   on_warm=lambda: warm.update(rss=server.rss_mb())))
        elapsed = time.monotonic() - t0
        report["rss_mb_after_warmup"] = warm["rss"]
        report["rss_mb_end"] = server.rss_mb()
        report["alive"] = server.alive()
        report["tracebacks"] = server.log(tail=10**9).count("Traceback")
    growth = [(e - w) / w for w, e in zip(report["rss_mb_after_warmup"], report["rss_mb_end"])]
    report.update(
        requests=tally.good + tally.bad, good=tally.good, bad=tally.bad, per_s=round((tally.good + tally.bad) / elapsed, 1),
        statuses=dict(sorted(tally.statuses.items())), server_errors=tally.server_errors,
        transport_errors=tally.transport_errors, wrong_answers=tally.wrong_count, wrong_examples=tally.wrong,
        unexpected_statuses=tally.unexpected_count, unexpected_examples=tally.unexpected,
        rss_growth=[round(g, 4) for g in growth],
    )
    report["ok"] = bool(report["alive"] and tally.server_errors == 0 and tally.transport_errors == 0
                        and tally.wrong_count == 0 and tally.unexpected_count == 0 and tally.good > 0
                        and max(growth) < max_rss_growth)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--drawings", type=int, default=120, help="pen-drawn digits to choose good requests from")
    ap.add_argument("--bad-share", type=float, default=0.3, help="share of bad requests")
    ap.add_argument("--max-rss-growth", type=float, default=0.10)
    ap.add_argument("--pendigits", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the RSS baseline is taken")
    ap.add_argument("--log-dir", type=Path, default=None, help="keep the server's log in this folder")
    args = ap.parse_args()
    import os

    os.environ.update(ONE_THREAD_ENV)
    report = run_soak(seconds=args.seconds, clients=args.clients, workers=args.workers, drawings=args.drawings,
                      bad_share=args.bad_share, max_rss_growth=args.max_rss_growth, pendigits=args.pendigits,
                      model=args.model, log_dir=args.log_dir, warmup_s=args.warmup)
    print(f"{report['requests']} requests in {args.seconds:.0f} s ({report['per_s']}/s) from {args.clients} clients, "
          f"{args.workers} worker(s): {report['good']} good, {report['bad']} bad")
    print(f"statuses {report['statuses']}; 5xx {report['server_errors']}, transport errors "
          f"{report['transport_errors']}, wrong answers {report['wrong_answers']}, "
          f"unexpected statuses {report['unexpected_statuses']}")
    print(f"RSS MB: start {report['rss_mb_start']}, after warm-up {report['rss_mb_after_warmup']}, "
          f"end {report['rss_mb_end']} (growth {report['rss_growth']})")
    for line in report["wrong_examples"] + report["unexpected_examples"]:
        print("  " + line)
    print("PASS" if report["ok"] else "FAIL")
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
