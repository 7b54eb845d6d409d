"""Shared fixtures. Data locations come from env vars (the Makefile and .ci/run set them):

DIGITPAD_DATA_DIR        folder with the four MNIST IDX .gz files
DIGITPAD_PENDIGITS       the pendigits trajectories-dev.jsonl.gz file
DIGITPAD_UNIPEN          the UNIPEN folder (trajectories-dev, symbols-dev, letters-*-dev, numbers-dev)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digitpad import harness

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


# ------------------------------------------------------------------ what was skipped, said at the end

# Skips by kind: (marker or reason text, what was skipped, how to run it).
SKIP_KINDS = [
    ("postgres", "PostgreSQL cases", "set DIGITPAD_TEST_POSTGRES_URL, or run .ci/run, which starts one"),
    ("browser", "Chromium cases", "apt-get install chromium; .ci/run does"),
    ("CI=true", "CI-only checks", "run with CI=true"),
]


def skip_summary(reports: list) -> str:
    """One line: how many tests of each kind were skipped and how to run them ('' if none)."""
    counts: dict[tuple[str, str], int] = {}
    for rep in reports:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        kind = next(((what, how) for key, what, how in SKIP_KINDS if key in rep.keywords or key in reason),
                    ("other", reason.removeprefix("Skipped: ")))
        counts[kind] = counts.get(kind, 0) + 1
    parts = [f"{n} {what} ({how})" for (what, how), n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return "skipped: " + "; ".join(parts) if parts else ""


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after -ra's list, just above the counts
def pytest_terminal_summary(terminalreporter):  # noqa: ANN001, ANN201
    try:
        return (yield)
    finally:
        line = skip_summary(terminalreporter.stats.get("skipped", []))
        if line:
            terminalreporter.write_line(line, yellow=True)


# Settings every app and server of the tests gets through the environment, unless a test says
# otherwise: starlette's TestClient names the host "testserver"; every test client posts from the
# one address 127.0.0.1, far over the per-client default (tests/test_public.py checks the defaults).
TEST_ENV = {"DIGITPAD_ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],testserver",
            "DIGITPAD_FEEDBACK_PER_MINUTE": "100000"}


@pytest.fixture(scope="session", autouse=True)
def _test_env():
    old = {k: os.environ.get(k) for k in TEST_ENV}
    os.environ.update(TEST_ENV)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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
    p = os.environ.get("DIGITPAD_UNIPEN")
    if not p or not (Path(p) / "symbols-dev.jsonl.gz").is_file():
        _missing("set DIGITPAD_UNIPEN to the UNIPEN folder (make test sets it to ../shared/data/unipen)")
    return Path(p)


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


class ServerProcess(harness.ServerProcess):
    """The package's server harness (``digitpad.harness``), started from the repo root; a server
    that dies or never answers fails the test with its log. Positional: the log folder, then
    ``digitpad serve`` arguments: ``with server_process(tmp_path, "--workers", "2", env={...}) as s:``."""

    def __init__(self, log_dir: Path, *args: str, env: dict[str, str] | None = None, startup_s: float = 60,
                 port: int | None = None) -> None:
        super().__init__(*args, log_dir=log_dir, env=env, startup_s=startup_s, cwd=REPO, port=port)

    def start(self, ready: str = "/healthz") -> ServerProcess:
        try:
            return super().start(ready)
        except harness.HarnessError as e:
            pytest.fail(str(e))

    def assert_alive(self) -> None:
        try:
            super().assert_alive()
        except harness.HarnessError as e:
            pytest.fail(str(e))


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
