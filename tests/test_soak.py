"""A shortened soak: 32 concurrent clients mix good and bad requests against a real server for
10 s. No 5xx, no transport error, every good request gets exactly its own drawing's answer (so
answers cannot be swapped between concurrent requests), every bad one its 4xx, and the RSS of
each worker grows less than 10% after warm-up. It runs ``bench/soak.py`` itself, in a cheap
mode (the full 60 s run is that script's default), and reads its JSON report.

    DIGITPAD_PENDIGITS=... .venv/bin/python -m pytest tests/test_soak.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


def test_soak_shortened(pendigits_path: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, str(SOAK), "--seconds", "10", "--clients", "32", "--workers", "2", "--drawings", "80",
           "--warmup", "3", "--pendigits", str(pendigits_path), "--log-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("server-*.log"))[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["alive"], logs
    assert report["good"] > 0 and report["bad"] > 0, report
    assert report["server_errors"] == 0, (report["statuses"], logs)
    assert report["transport_errors"] == 0, report["unexpected_examples"]
    assert report["wrong_answers"] == 0, report["wrong_examples"]
    assert report["unexpected_statuses"] == 0, report["unexpected_examples"]
    assert max(report["rss_growth"]) < 0.10, (report["rss_mb_after_warmup"], report["rss_mb_end"])
    assert report["tracebacks"] == 0, logs
    assert report["ok"] and out.returncode == 0, report
