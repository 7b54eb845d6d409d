"""What a newcomer runs first: the package builds quietly and whole, and `make run` listens where
it is asked to (DIGITPAD_PORT / DIGITPAD_HOST, or `make run PORT=... HOST=...`), or says how to
pick another port when its port is taken.

`make run` is run for real, with the Makefile's own recipe; only its install step is skipped
(`make -o install-serve`, with BIN pointing at this interpreter's environment), because the
environment running the tests is already installed and the test must not reinstall it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

from digitpad.harness import free_port

# ------------------------------------------------------------------ the package


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the wheel from a copy of the sources (the checkout stays clean), with the
    setuptools of this environment (no build isolation: no network), as pip would."""
    pytest.importorskip("setuptools", reason="the dev extra installs setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "digitpad", src / "digitpad",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    (whl,) = out.glob("digitpad-*.whl")
    return whl, log


def test_the_build_says_nothing_about_missing_packages(wheel) -> None:
    _, log = wheel
    assert "BuildBackendWarning" not in log, log
    assert "absent from the `packages` configuration" not in log, log


def test_the_wheel_holds_the_code_the_model_the_page_and_the_migrations(wheel) -> None:
    whl, _ = wheel
    names = set(zipfile.ZipFile(whl).namelist())
    for must in ("digitpad/cli/__main__.py", "digitpad/models/digitpad.int8.onnx", "digitpad/static/index.html",
                 "digitpad/alembic.ini", "digitpad/migrations/script.py.mako"):
        assert must in names, must
    # Every file of the package folder travels (bar compiled leftovers of this checkout).
    sources = {p.relative_to(REPO).as_posix() for p in (REPO / "digitpad").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".pyc")}
    assert sources - names == set(), sorted(sources - names)
    assert not any("__pycache__" in n for n in names), sorted(n for n in names if "__pycache__" in n)


# ------------------------------------------------------------------ make run


def _make_run(*make_args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`make run` in its own process group (make starts digitpad, which may start workers)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "digitpad").exists(), f"no digitpad command beside {sys.executable}"
    return subprocess.Popen(["make", "--no-print-directory", "-o", "install-serve", "run", f"BIN={bin_dir}", *make_args],
                            cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this test started: make and its children
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.stdout.read()


def _answers(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> bool:
    """True once ``url`` answers 200; False if make exits first (or after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def _refused(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


@pytest.mark.parametrize("how", ["env", "make-variables"])
def test_make_run_listens_on_the_port_and_host_asked_for(tmp_path: Path, how: str) -> None:
    # 127.0.0.2 is loopback too, but not the default: the server must really bind what was asked.
    port = free_port()
    settings = {"DIGITPAD_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}"}
    if how == "env":
        proc = _make_run(env={**settings, "DIGITPAD_PORT": str(port), "DIGITPAD_HOST": "127.0.0.2"})
    else:
        proc = _make_run(f"PORT={port}", "HOST=127.0.0.2", env=settings)
    try:
        ok = _answers(f"http://127.0.0.2:{port}/healthz", proc)
        assert ok and _refused("127.0.0.1", port), "not listening on 127.0.0.2 only"
    finally:
        log = _stop(proc)
    assert ok, log


def test_make_run_on_a_busy_port_says_what_a_make_user_can_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _make_run(f"PORT={port}", env={"DIGITPAD_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
        try:
            proc.wait(60)
        finally:
            out = _stop(proc)
    assert proc.returncode != 0, out
    assert f"127.0.0.1:{port} is already in use" in out, out
    assert "make run PORT=" in out and "DIGITPAD_PORT=" in out, out
    assert "Traceback" not in out, out


# ------------------------------------------------------------------ make test: what it skipped


def test_the_test_run_ends_by_saying_what_it_skipped_and_how_to_run_it() -> None:
    """Without DIGITPAD_TEST_POSTGRES_URL the PostgreSQL cases skip; the run's last lines say so
    in one line, with their number and how to run them (a real pytest run of those cases)."""
    import re

    env = {k: v for k, v in os.environ.items() if k != "DIGITPAD_TEST_POSTGRES_URL"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_store.py",
                        "-k", "postgres"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    tail = r.stdout.strip().splitlines()[-2:]
    skipped = int(re.search(r"(\d+) skipped", tail[-1]).group(1))
    assert skipped > 0, tail
    assert tail[0].startswith("skipped: ") and f"{skipped} PostgreSQL cases" in tail[0], tail
    assert "DIGITPAD_TEST_POSTGRES_URL" in tail[0] and ".ci/run" in tail[0], tail
