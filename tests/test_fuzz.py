"""Property-based fuzzing of the whole HTTP API from its own OpenAPI spec (schemathesis).

Every operation in ``/openapi.json`` gets generated requests, valid and invalid (wrong types,
missing fields, odd strings, bodies in each declared media type), sent in-process to the real
app with its real model and a throwaway SQLite feedback store. Each response must:

- not be a 5xx (``not_a_server_error``);
- have a status code the spec declares for that operation (``status_code_conformance``);
- have a declared content type, and a body that matches the declared schema, errors included
  (``content_type_conformance``, ``response_schema_conformance``).

Bounded for CI: ``MAX_EXAMPLES`` per operation, no deadline (a 2-core machine shared with
other tests is slow, not wrong). (The spec is built at import rather than from a fixture:
schemathesis' lazy fixture loader does not work with pytest 9.) Set ``DIGITPAD_FUZZ_EXAMPLES`` for a longer hunt.

    .venv/bin/python -m pytest tests/test_fuzz.py -q
"""

from __future__ import annotations

import atexit
import os
import re
import tempfile

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from digitpad.settings import Settings  # noqa: E402
from digitpad.web.app import create_app  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("DIGITPAD_FUZZ_EXAMPLES", "40"))
TOKEN = "fuzz-admin-token"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _app_schema():
    """The app (real model, throwaway SQLite store) and its own OpenAPI spec. Built at import, as
    schemathesis needs the spec to collect one test per operation; nothing heavy happens here:
    the model and the store open in the app's lifespan, on the first generated request."""
    db_dir = tempfile.TemporaryDirectory(prefix="digitpad-fuzz-")
    atexit.register(db_dir.cleanup)
    # (Built before conftest's session settings apply: the test client's host name is given here.)
    app = create_app(Settings(database_url=f"sqlite:///{db_dir.name}/feedback.db", admin_token=TOKEN,
                              max_body_bytes=1_000_000, max_pixels=4_000_000, allowed_hosts="testserver"))
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app = app  # requests go to the app in-process (ASGI)
    return loaded


schema = _app_schema()


def _fuzz(case) -> None:  # noqa: ANN001 (a schemathesis Case)
    # The admin token lets generated requests reach the admin routes' own validation and
    # handlers; tests/test_feedback_api.py covers requests without it.
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def _operation_test(method: str, path: str):  # noqa: ANN202 (a test function)
    """The fuzz test of one operation (schemathesis' phases: examples, coverage, generation): a
    new function each time, since both decorators mark the function object itself."""

    @schema.include(method=method, path=path).parametrize()
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def test(case) -> None:  # noqa: ANN001 (a schemathesis Case)
        _fuzz(case)

    return test


# One test function per operation, each its own pytest item: `make test` runs the files in
# several processes (pytest-xdist), which schedule items by node id, and schemathesis' items of
# one function all share the function's id there (only one operation would run).
for _op in (result.ok() for result in schema.get_all_operations()):
    _name = "test_api_fuzz_" + re.sub(r"\W+", "_", f"{_op.method} {_op.path}".lower()).strip("_")
    globals()[_name] = _operation_test(_op.method.upper(), _op.path)
