"""The deployment topology for the tests: bench/proxy.py's nginx and PostgreSQL harness, plus what
a test needs around it (skip locally / fail in CI when nginx or PostgreSQL is missing).

    with nginx_proxy(ports) as proxy         # NginxProxy from deploy/nginx/digitpad.conf.template
    with postgres_url(tmp_path) as url       # DIGITPAD_TEST_POSTGRES_URL (a fresh schema), else a cluster of our own
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from conftest import REPO, _missing
from feedback_support import PG_ENV, database

sys.path.insert(0, str(REPO / "bench"))
from proxy import NGINX_TEMPLATE, NginxProxy, PostgresCluster, find_nginx, postgres_bindir, render_template  # noqa: E402

__all__ = ["NGINX_TEMPLATE", "NginxProxy", "nginx_proxy", "postgres_url", "render_template"]


def nginx_proxy(ports: list[int], **kwargs) -> NginxProxy:
    """An (unstarted) NginxProxy; skips here, fails in CI, when nginx is missing."""
    if find_nginx() is None:
        _missing("Debian's nginx is not installed: apt-get install -y nginx (.ci/run does)")
    return NginxProxy(ports, **kwargs)


@contextlib.contextmanager
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL: a throwaway schema in the server that
    DIGITPAD_TEST_POSTGRES_URL names (CI starts one), else a cluster of our own."""
    if os.environ.get(PG_ENV):
        yield from database("postgres", tmp_path)
        return
    if postgres_bindir() is None:
        _missing(f"no PostgreSQL: set {PG_ENV}, or apt-get install -y postgresql (.ci/run does)")
    with PostgresCluster() as url:
        yield url
