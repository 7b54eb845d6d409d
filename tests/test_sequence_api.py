"""The sequence model's file for on-device reading: ``GET /api/sequence.onnx`` answers the bytes
the server loaded (versioned by hash in ``/api/config``'s ``sequence_url``, cached for good,
gzipped, revalidated by ETag), and a server started with ``DIGITPAD_SEQUENCE=false`` answers 404
and ``sequence_url: null`` (the device then reads numbers without one, as the server does).

    .venv/bin/python -m pytest tests/test_sequence_api.py -q
"""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from digitpad.artifact import sequence_model_path
from digitpad.settings import Settings
from digitpad.web.app import create_app


def test_the_sequence_model_is_served_versioned_and_cached() -> None:
    data = sequence_model_path().read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    with TestClient(create_app(Settings())) as c:
        config = c.get("/api/config")
        assert config.status_code == 200, config.text
        url = config.json()["sequence_url"]
        assert url == f"api/sequence.onnx?v={digest}", url
        plain = c.get("/" + url, headers={"accept-encoding": "identity"})
        assert plain.status_code == 200, plain.text
        assert plain.content == data and plain.headers["content-type"] == "application/octet-stream"
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["etag"] == f'"{digest}"'
        again = c.get("/" + url, headers={"accept-encoding": "identity", "if-none-match": plain.headers["etag"]})
        assert again.status_code == 304, again.status_code
        gz = c.get("/" + url, headers={"accept-encoding": "gzip"})
        assert gz.headers.get("content-encoding") == "gzip" and gz.headers["etag"] == f'"{digest}-gz"', gz.headers
        assert gz.content == data  # (httpx undid the gzip)
        unversioned = c.get("/api/sequence.onnx", headers={"accept-encoding": "identity"})
        assert unversioned.status_code == 200 and unversioned.headers["cache-control"] == "no-cache"
        spec = c.get("/openapi.json").json()
        assert "/api/sequence.onnx" in spec["paths"]
        assert "sequence_url" in spec["components"]["schemas"]["ConfigResponse"]["properties"]


def test_without_the_sequence_model_the_route_is_404_and_config_says_null(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITPAD_SEQUENCE", "false")
    with TestClient(create_app(Settings())) as c:
        assert c.get("/api/config").json()["sequence_url"] is None
        for path in ("/api/sequence.onnx", "/api/sequence.onnx?v=0123456789abcdef"):
            r = c.get(path)
            assert r.status_code == 404, r.text
            assert r.headers["content-type"].startswith("application/json"), r.headers
            assert r.json()["error"]["code"] == "sequence_disabled", r.json()
        assert c.get("/api/model.onnx").status_code == 200  # the digit model is still served
