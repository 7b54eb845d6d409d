"""The deployment topology as local processes, for the benchmarks and tests/test_topology.py:
nginx from deploy/nginx/digitpad.conf.template, and a throwaway PostgreSQL cluster.

    render_template(text, values)                  # the nginx image's envsubst, strict
    with NginxProxy([8001, 8002, 8003]) as proxy:  # Debian's nginx, foreground, free 127.0.0.1 port
        proxy.reload(ports, down={8001})           # returns once the old workers have drained
    with PostgresCluster() as url:                 # initdb + pg_ctl in a temp folder, free port

Not a script: bench/topology_throughput.py and tests/topology_support.py import it. Everything
binds 127.0.0.1 and is stopped by its own PID; failures raise RuntimeError with the process's log.
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
from pathlib import Path

from digitpad.harness import free_port

REPO = Path(__file__).resolve().parents[1]
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


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def upstream_lines(ports: list[int], down: frozenset[int] = frozenset()) -> str:
    """The PROXY_UPSTREAMS of replicas on 127.0.0.1, ``down`` ones taken out of rotation."""
    return "\n    ".join(f"server 127.0.0.1:{p} down;" if p in down else
                          f"server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in ports)


class NginxProxy:
    """nginx, configured from ``deploy/nginx/digitpad.conf.template``, as a foreground process.

    The template holds the http-level directives (as in the nginx image's conf.d); the main file
    around it here only adds what a container gives nginx for free: temp paths, pid, error log.
    """

    def __init__(self, ports: list[int], *, max_body_bytes: int = 10_000_000, workers: int = 2) -> None:
        binary = find_nginx()
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install -y nginx)")
        self.binary = binary
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
        self.proc: subprocess.Popen | None = None
        try:
            self.write_site(ports)
        except BaseException:
            self.remove()
            raise

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

    def _check(self) -> None:
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")

    def __enter__(self) -> NginxProxy:
        self._check()
        self.proc = subprocess.Popen([*self._args(), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}; its error log:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"nginx did not listen within 20 s; its error log:\n{self.log()}")
            time.sleep(0.05)

    def workers(self) -> set[int]:
        import psutil

        return {c.pid for c in psutil.Process(self.proc.pid).children()}

    def pids(self) -> list[int]:
        return [self.proc.pid, *sorted(self.workers())]

    def reload(self, ports: list[int], down: frozenset[int] = frozenset(), timeout: float = 30) -> None:
        """New upstreams, as an operator reloads nginx (SIGHUP): returns once nginx's old workers,
        which finish the requests they hold, have all exited, so nothing goes to a replica taken
        out any more."""
        old = self.workers()
        self.write_site(ports, down)
        self._check()
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.workers() & old or not self.workers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx's old workers did not exit; its error log:\n{self.log()}")
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


def postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PostgresCluster:
    """A PostgreSQL cluster of our own: Debian's initdb and pg_ctl (as the ``postgres`` user when we
    are root: initdb refuses root) in a temp folder, on a free 127.0.0.1 port; ``with`` gives its URL."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")
        self.run_as: dict[str, int] = {}
        if os.geteuid() == 0:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root with no 'postgres' user to run initdb as") from None
            self.run_as = {"user": user.pw_uid, "group": user.pw_gid}
        self.folder = Path(tempfile.mkdtemp(prefix="digitpad-pg-"))
        if self.run_as:
            os.chown(self.folder, self.run_as["user"], self.run_as["group"])
        self.data, self.port = self.folder / "data", free_port()
        self.url = f"postgresql+psycopg://digitpad@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True, timeout=120,
                              cwd=self.folder, **self.run_as)

    def __enter__(self) -> str:
        r = self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "digitpad", "-E", "UTF8", "--no-sync")
        if r.returncode != 0:
            self.__exit__()
            raise RuntimeError(f"initdb failed:\n{r.stdout}{r.stderr}")
        log = self.folder / "postgres.log"
        r = self._pg("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o",
                     f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        if r.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            self.__exit__()
            raise RuntimeError(f"pg_ctl start failed:\n{r.stdout}{r.stderr}{text}")
        return self.url

    def __exit__(self, *exc: object) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
