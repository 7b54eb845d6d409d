"""Shared fixtures. Data locations come from env vars (the Makefile and .ci/run set them):

DIGITPAD_DATA_DIR        folder with the four MNIST IDX .gz files
DIGITPAD_PENDIGITS       the pendigits trajectories-dev.jsonl.gz file
DIGITPAD_UNIPEN          the folder of the UNIPEN dev files (trajectories, numbers, symbols, ...)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="session", autouse=True)
def _feedback_db_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """No test touches a real feedback database (the per-user SQLite file, or whatever
    DIGITPAD_DATABASE_URL says outside the tests): apps built from ``Settings()`` get a
    throwaway SQLite file. Tests that need another store pass their own URL."""
    old = os.environ.get("DIGITPAD_DATABASE_URL")
    os.environ["DIGITPAD_DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('feedback-db') / 'feedback.db'}"
    yield
    if old is None:
        os.environ.pop("DIGITPAD_DATABASE_URL", None)
    else:
        os.environ["DIGITPAD_DATABASE_URL"] = old


def _missing(reason: str) -> None:
    """Skip locally, but fail in CI (CI=true), where a skipped suite would hide everything."""
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    d = os.environ.get("DIGITPAD_DATA_DIR")
    if not d or not Path(d).is_dir():
        _missing("set DIGITPAD_DATA_DIR to the MNIST folder (make test sets it to ../shared/data/mnist)")
    return Path(d)


@pytest.fixture(scope="session")
def pendigits_path() -> Path:
    p = os.environ.get("DIGITPAD_PENDIGITS")
    if not p or not Path(p).is_file():
        _missing("set DIGITPAD_PENDIGITS to trajectories-dev.jsonl.gz (make test sets it)")
    return Path(p)


@pytest.fixture(scope="session")
def unipen_dir() -> Path:
    d = os.environ.get("DIGITPAD_UNIPEN")
    if not d or not (Path(d) / "numbers-dev.jsonl.gz").is_file():
        _missing("set DIGITPAD_UNIPEN to the UNIPEN data folder (make test sets it)")
    return Path(d)


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The model served by default: the int8 twin of the shipped float model."""
    from digitpad.artifact import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def shipped_float_model() -> Path:
    """The shipped float model: the training artifact (fine-tuning, torch parity)."""
    from digitpad.artifact import float_model_path

    return float_model_path()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artifacts a person may want to look at (screenshots...)."""
    d = REPO / "test-output"
    d.mkdir(exist_ok=True)
    return d


# ------------------------------------------------------------------ a real server subprocess


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m digitpad.cli serve`` on a free 127.0.0.1 port, as a real subprocess.

    ``env`` adds DIGITPAD_* settings (the rest of the environment, e.g. DIGITPAD_MODEL, is
    inherited). Use as a context manager: waits for /healthz, stops the process by PID, and
    fails with the server's log if it dies or never answers.
    """

    def __init__(self, log_dir: Path, *args: str, env: dict[str, str] | None = None, startup_s: float = 60) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.args = args
        self.env = {**os.environ, "DIGITPAD_DATABASE_URL": f"sqlite:///{log_dir / f'feedback-{self.port}.db'}",
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_s = startup_s
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        import subprocess
        import sys
        import time
        import urllib.request

        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digitpad.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=self.env, cwd=REPO,
        )
        deadline = time.monotonic() + self.startup_s
        while True:
            if self.proc.poll() is not None:
                self._close()
                pytest.fail(f"server exited with {self.proc.returncode} before answering; its log:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                pytest.fail(f"server did not answer /healthz within {self.startup_s:.0f} s; its log:\n{self.log()}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # by PID: uvicorn shuts down (and stops its workers) on SIGTERM
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close()

    def _close(self) -> None:
        if getattr(self, "_log_file", None) and not self._log_file.closed:
            self._log_file.close()

    def assert_alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"server died; its log:\n{self.log()}"


@pytest.fixture(scope="session")
def server_process() -> type[ServerProcess]:
    """Start a server of your own: ``with server_process(tmp_path, "--workers", "2", env={...}) as s:``."""
    return ServerProcess


@pytest.fixture(scope="session")
def live_server_process(tmp_path_factory: pytest.TempPathFactory):
    """A real digitpad server (uvicorn subprocess) shared by the session's tests."""
    with ServerProcess(tmp_path_factory.mktemp("live-server")) as server:
        yield server
        server.assert_alive()


@pytest.fixture(scope="session")
def live_server(live_server_process: ServerProcess) -> str:
    """URL of the shared real server, e.g. http://127.0.0.1:43817 (no trailing slash)."""
    return live_server_process.url


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not at /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
