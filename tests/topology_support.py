"""Real processes for the deployment tests: nginx from the shipped template, a throwaway PostgreSQL.

    render_template(text, values)            # the nginx image's envsubst, strict: every ${NAME} given
    with NginxProxy(upstreams, ...) as proxy # Debian's nginx in the foreground on a free 127.0.0.1 port
        proxy.reload(upstreams)              # new server lines; returns once the old workers have drained
    with postgres_url(tmp_path) as url       # DIGITPAD_TEST_POSTGRES_URL (a fresh schema), else a cluster of our own

Everything binds 127.0.0.1 and is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, _missing, free_port
from feedback_support import PG_ENV, database

NGINX_TEMPLATE = REPO / "deploy" / "nginx" / "digitpad.conf.template"
_NAME = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render_template(text: str, values: dict[str, str]) -> str:
    """``${NAME}`` -> ``values[NAME]``, as the nginx image's envsubst does for the names it is given;
    nginx's own ``$variables`` stay. A name left without a value is an error here (envsubst would
    leave it, and nginx would fail on it)."""
    missing = sorted({m for m in _NAME.findall(text) if m not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)} in {NGINX_TEMPLATE.name}")
    return _NAME.sub(lambda m: values[m.group(1)], text)


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None:
        _missing("Debian's nginx is not installed: apt-get install -y nginx-light (.ci/run does)")
    return path


def upstream_lines(ports: list[int], down: frozenset[int] = frozenset()) -> str:
    """The ${PROXY_UPSTREAMS} of replicas on 127.0.0.1, ``down`` ones taken out of rotation."""
    return "\n    ".join(f"server 127.0.0.1:{p} down;" if p in down else
                          f"server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in ports)


class NginxProxy:
    """nginx, configured from ``deploy/nginx/digitpad.conf.template``, as a foreground process.

    The template holds the http-level directives (as in the nginx image's conf.d); the main file
    around it here only adds what a container gives nginx for free: temp paths, pid, error log.
    """

    def __init__(self, ports: list[int], *, max_body_bytes: int, workers: int = 2) -> None:
        self.binary = nginx_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.max_body_bytes = max_body_bytes
        # Its own folder under /tmp, readable by nginx's workers (nobody, when we run as root).
        self.prefix = Path(tempfile.mkdtemp(prefix="digitpad-nginx-"))
        self.prefix.chmod(0o755)
        self.access_log = self.prefix / "access.log"
        self.error_log = self.prefix / "error.log"
        self.main_conf = self.prefix / "nginx.conf"
        self.site_conf = self.prefix / "digitpad.conf"
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(f"    {kind}_temp_path {self.prefix / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.main_conf.write_text(
            f"{user}worker_processes {workers};\npid {self.prefix / 'nginx.pid'};\n"
            f"error_log {self.error_log} notice;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n{temp}\n    include {self.site_conf};\n}}\n")
        self.write_site(ports)
        self.proc: subprocess.Popen | None = None

    def write_site(self, ports: list[int], down: frozenset[int] = frozenset()) -> None:
        self.site_conf.write_text(render_template(NGINX_TEMPLATE.read_text(), {
            "PROXY_LISTEN": f"127.0.0.1:{self.port}",
            "PROXY_UPSTREAMS": upstream_lines(ports, down),
            "PROXY_ACCESS_LOG": str(self.access_log),
            "DIGITPAD_MAX_BODY_BYTES": str(self.max_body_bytes),
        }))

    def _args(self) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.main_conf), "-e", str(self.error_log)]

    def test_config(self) -> subprocess.CompletedProcess:
        """``nginx -t`` on the files as they are now."""
        return subprocess.run([*self._args(), "-t"], capture_output=True, text=True, timeout=30)

    def log(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def __enter__(self) -> NginxProxy:
        checked = self.test_config()
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen([*self._args(), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited with {self.proc.returncode}; its error log:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if time.monotonic() > deadline:
                self.__exit__()
                pytest.fail(f"nginx did not listen within 20 s; its error log:\n{self.log()}")
            time.sleep(0.05)

    def workers(self) -> set[int]:
        import psutil

        return {c.pid for c in psutil.Process(self.proc.pid).children()}

    def reload(self, ports: list[int], down: frozenset[int] = frozenset(), timeout: float = 30) -> None:
        """New upstreams, as an operator reloads nginx (SIGHUP): returns once nginx's old workers,
        which finish the requests they hold, have all exited, so nothing goes to a replica taken
        out any more."""
        old = self.workers()
        self.write_site(ports, down)
        checked = self.test_config()
        assert checked.returncode == 0, checked.stderr
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.workers() & old or not self.workers():
            assert time.monotonic() < deadline, f"nginx's old workers did not exit; its error log:\n{self.log()}"
            time.sleep(0.05)

    def access_entries(self) -> list[dict[str, str]]:
        """The access log as dicts: method, path, status, upstream (host:port, or several tried)."""
        pattern = re.compile(r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) .*? upstream=(?P<upstream>.*?) ustatus=')
        if not self.access_log.exists():
            return []
        return [m.groupdict() for m in map(pattern.search, self.access_log.read_text().splitlines()) if m]

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: by PID, the master stops its own workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.remove()

    def remove(self) -> None:
        """Delete the folder (a proxy only configured and checked, never started, needs just this)."""
        shutil.rmtree(self.prefix, ignore_errors=True)


# ------------------------------------------------------------------ PostgreSQL


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@contextlib.contextmanager
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL: a throwaway schema in the server that
    DIGITPAD_TEST_POSTGRES_URL names (CI starts one), else a cluster of our own (Debian's initdb
    and pg_ctl, as the ``postgres`` user when we are root) in a temp folder on a free port."""
    if os.environ.get(PG_ENV):
        yield from database("postgres", tmp_path)
        return
    bindir = _postgres_bin()
    if bindir is None:
        _missing(f"no PostgreSQL: set {PG_ENV}, or apt-get install -y postgresql (.ci/run does)")
    user = None
    if os.geteuid() == 0:  # initdb refuses root
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root with no 'postgres' user to run initdb as")
    folder = Path(tempfile.mkdtemp(prefix="digitpad-pg-"))
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", free_port()
    run_as = {"user": user.pw_uid, "group": user.pw_gid} if user is not None else {}

    def pg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bindir / args[0]), *args[1:]], capture_output=True, text=True, timeout=120,
                              cwd=folder, **run_as)

    try:
        r = pg("initdb", "-D", str(data), "-A", "trust", "-U", "digitpad", "-E", "UTF8", "--no-sync")
        assert r.returncode == 0, r.stdout + r.stderr
        r = pg("pg_ctl", "-D", str(data), "-l", str(folder / "postgres.log"), "-w", "-t", "60", "-o",
               f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
        assert r.returncode == 0, r.stdout + r.stderr + (folder / "postgres.log").read_text(errors="replace")
        yield f"postgresql+psycopg://digitpad@127.0.0.1:{port}/postgres"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
