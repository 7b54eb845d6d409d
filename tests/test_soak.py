"""A shortened soak: 32 concurrent clients mix good and bad requests against a real server for
10 s. No 5xx, no transport error, every good request gets exactly its own drawing's answer (so
answers cannot be swapped between concurrent requests), every bad one its 4xx, and the RSS of
each worker grows less than 10% after warm-up. The full 60 s run is ``bench/soak.py``.

    DIGITPAD_PENDIGITS=... .venv/bin/python -m pytest tests/test_soak.py -q
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_soak():
    """bench/soak.py as a module (bench/ is a folder of scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("soak", BENCH / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_soak_shortened(pendigits_path: Path, tmp_path: Path) -> None:
    soak = load_soak()
    log = tmp_path / "server.log"
    report = soak.run_soak(seconds=10, clients=32, workers=2, drawings=80, warmup_s=3, pendigits=pendigits_path,
                           log_path=log)
    server_log = log.read_text(errors="replace")[-3000:]
    assert report["alive"], server_log
    assert report["good"] > 0 and report["bad"] > 0, report
    assert report["server_errors"] == 0, (report["statuses"], server_log)
    assert report["transport_errors"] == 0, report["unexpected_examples"]
    assert report["wrong_answers"] == 0, report["wrong_examples"]
    assert report["unexpected_statuses"] == 0, report["unexpected_examples"]
    assert max(report["rss_growth"]) < 0.10, (report["rss_mb_after_warmup"], report["rss_mb_end"])
    assert report["ok"], report
    assert "Traceback" not in log.read_text(errors="replace"), server_log
