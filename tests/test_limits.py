"""Bounded resources (issue 19, findings 3 and 7), on real servers and sockets: caps on what is in
flight answer 503 at once, a refused upload is answered (not reset), a request's deadline counts
from its start, corrections decode in a slot of their own, large JSON is parsed off the event
loop, static files are compressed once and downloads outlive the request timeout, and idle
sockets under a low file-descriptor limit cannot keep a health check out.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from feedback_support import drawings

from digitpad.errors import Busy
from digitpad.web.static import STATIC_DIR

WASM = "/vendor/onnxruntime-web-1.30.0/ort-wasm-simd-threaded.wasm"


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def head(path: str, length: int, ctype: str = "application/json", method: str = "POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def read_answer(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def send_all_then_read(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """What most clients do: send the whole request, then read the answer (a reset loses it)."""
    with connect(url) as s:
        view = memoryview(data)
        for i in range(0, len(view), 1 << 16):
            s.sendall(view[i:i + (1 << 16)])
        s.shutdown(socket.SHUT_WR)
        return read_answer(s)


# ------------------------------------------------------------------ caps on what is in flight


def test_in_flight_caps_answer_503_at_once_and_health_still_answers(tmp_path, server_process):
    png, _ = drawings(1)[0]
    env = {"DIGITPAD_MAX_REQUESTS_IN_FLIGHT": "2", "DIGITPAD_MAX_BYTES_IN_FLIGHT": "3000000",
           "DIGITPAD_MAX_BODY_BYTES": "2000000", "DIGITPAD_REQUEST_TIMEOUT": "30"}
    with server_process(tmp_path, env=env) as server:
        # Two uploads of 1.5 MB declared, still arriving: both are in (3 MB budget).
        held = [connect(server.url), connect(server.url)]
        for s in held:
            s.sendall(head("/api/predict", 1_500_000) + b'{"image": "')
        time.sleep(0.5)
        small = {"image": ("d.png", png, "image/png")}
        r = httpx.post(server.url + "/api/predict", files=small, timeout=10)
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text  # requests cap
        assert r.headers["retry-after"] == "1"
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200  # not counted
        held[1].close()  # one upload gives up: a request's room, not the bytes' (1.5 + 1.5 MB > 3 MB)
        time.sleep(0.5)
        status, _, body = send_all_then_read(server.url, head("/api/predict", 1_600_000) + b"x" * 1_600_000)
        assert status == 503 and json.loads(body)["error"]["code"] == "busy", body  # bytes cap
        assert httpx.post(server.url + "/api/predict", files=small, timeout=10).status_code == 200
        held[0].close()
        time.sleep(0.5)
        assert httpx.post(server.url + "/api/predict", files=small, timeout=10).status_code == 200
        server.assert_alive()


@pytest.mark.parametrize("case", ["413 declared over the limit", "503 busy"])
def test_a_refused_upload_is_answered_not_reset(tmp_path, server_process, case):
    """The server answers before the body has arrived: the client, still sending, must read the
    answer (before issue 19, 37 of 90 such clients got a connection reset instead)."""
    env = {"DIGITPAD_MAX_BODY_BYTES": "4000000", "DIGITPAD_MAX_BYTES_IN_FLIGHT": "4000000",
           "DIGITPAD_MAX_REQUESTS_IN_FLIGHT": "1"}
    with server_process(tmp_path, env=env) as server:
        holder = None
        if case == "503 busy":  # one upload in flight fills the one request slot
            holder = connect(server.url)
            holder.sendall(head("/api/predict", 3_000_000) + b'{"image": "')
            time.sleep(0.5)
            size = 3_900_000
        else:
            size = 5_000_000
        for _ in range(3):
            status, headers, body = send_all_then_read(server.url, head("/api/predict", size) + b"a" * size)
            assert status == (503 if holder else 413), body
            assert headers["connection"] == "close" and json.loads(body)["error"]["code"] in ("busy", "payload_too_large")
        if holder:
            holder.close()
        server.assert_alive()


def test_the_request_deadline_counts_from_its_start():
    """The Guard gives routes the request's deadline, set before the body arrives; work still
    waiting for a slot at that deadline never starts (run_limited)."""
    from digitpad.web.admission import Admission
    from digitpad.web.guard import Guard
    from digitpad.web.predict import run_limited

    seen = {}

    async def app(scope, receive, send):  # noqa: ANN001
        seen["deadline"] = scope["digitpad.deadline"]
        await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def slow_body():
        await asyncio.sleep(0.6)  # the upload takes 0.6 s
        return {"type": "http.request", "body": b"x", "more_body": False}

    async def send(message):  # noqa: ANN001
        seen.setdefault("status", message.get("status"))

    guard = Guard(app, max_body=100, timeout=2.0, download_timeout=10, admission=Admission(
        hosts=None, max_requests=4, max_bytes=1000), headers=[], docs_headers=[])
    t0 = time.monotonic()
    asyncio.run(guard({"type": "http", "method": "POST", "path": "/x", "headers": []}, slow_body, send))
    assert seen["status"] == 204
    assert t0 + 2.0 <= seen["deadline"] <= t0 + 2.1, seen["deadline"] - t0  # from the start, not after the upload

    slot = threading.BoundedSemaphore(1)
    slot.acquire()  # another request's decode holds the slot past this one's deadline
    ran = []
    with pytest.raises(Busy):
        run_limited(slot, time.monotonic() + 0.3, ran.append, "decoded")
    assert ran == []  # abandoned work is dropped, never started


def test_corrections_decode_in_a_slot_of_their_own(tmp_path):
    """A photo being read by /api/predict (holding its decode slot) does not hold up a correction."""
    from fastapi.testclient import TestClient

    from digitpad.settings import Settings
    from digitpad.web.app import create_app

    png, label = drawings(1)[0]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", request_timeout=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.app.state.heavy_jobs.acquire()  # as a long decode would
        try:
            r = c.post("/api/feedback", files={"image": ("d.png", png, "image/png")}, data={"label": str(label)})
        finally:
            c.app.state.heavy_jobs.release()
    assert r.status_code == 201, r.text


def thread_cpu_s(pid: int, tid: int) -> float:
    """CPU seconds (user + system) one thread of a process has used: /proc/PID/task/TID/stat."""
    fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def test_large_json_is_parsed_off_the_event_loop(tmp_path, server_process):
    """A 9 MB JSON body (a big array beside the image) takes ~0.6 s of CPU to parse: a worker
    thread's, never the event loop's (the main thread of a one-process server), which would
    hold every other request that long."""
    import base64

    png, label = drawings(1)[0]
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    pad = "[" + "[]," * 2_900_000 + "0]"  # ~0.6 s of json.loads
    with server_process(tmp_path) as server:
        pid = server.proc.pid
        for path, extra in (("/api/predict", ""), ("/api/feedback", f', "label": {label}')):
            body = f'{{"image": "{image}"{extra}, "pad": {pad}}}'.encode()
            loop0, all0 = thread_cpu_s(pid, pid), server.cpu_seconds()
            r = httpx.post(server.url + path, content=body, headers={"content-type": "application/json"}, timeout=60)
            assert r.status_code in (200, 201), r.text
            loop, work = thread_cpu_s(pid, pid) - loop0, server.cpu_seconds() - all0
            assert work > 0.3, f"{path}: the parse took only {work:.2f} s of CPU: this test no longer tests it"
            assert loop < 0.5 * work, f"{path}: the event loop's thread did {loop:.2f} s of the {work:.2f} s"


# ------------------------------------------------------------------ static files


def test_static_files_are_compressed_once_not_per_request(tmp_path, server_process):
    gz = {"accept-encoding": "gzip"}
    with server_process(tmp_path) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        first = c.get(WASM, headers=gz)
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
        assert int(first.headers["content-length"]) < 5_000_000 and first.headers["vary"] == "accept-encoding"
        assert first.content[:4] == b"\0asm" and len(first.content) == (STATIC_DIR / WASM[1:]).stat().st_size
        etag = first.headers["etag"]
        assert etag.endswith('-gz"')
        cpu = server.cpu_seconds()
        for _ in range(5):  # re-gzipping the 14 MB file costs ~0.5-0.65 s of CPU each time
            again = c.get(WASM, headers=gz)
            assert again.headers["etag"] == etag
        assert server.cpu_seconds() - cpu < 0.5, "the .wasm was compressed again"
        assert c.get(WASM, headers={**gz, "if-none-match": etag}).status_code == 304
        plain = c.get(WASM, headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.headers["etag"] != etag


def test_a_slow_download_is_not_cut_by_the_request_timeout(tmp_path, server_process):
    """The request timeout (here 1 s) is for reading the request and doing the work; the 14 MB
    .wasm to a client reading ~4 MB/s takes ~3.5 s and arrives whole."""
    size = (STATIC_DIR / WASM[1:]).stat().st_size
    with server_process(tmp_path, env={"DIGITPAD_REQUEST_TIMEOUT": "1"}) as server:
        with connect(server.url) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(f"GET {WASM} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            got, t0 = b"", time.monotonic()
            while chunk := s.recv(65536):
                got += chunk
                time.sleep(0.015)
            took = time.monotonic() - t0
        _, _, body = got.partition(b"\r\n\r\n")
        assert took > 1.5, f"the client read faster ({took:.1f} s) than this test means to check"
        assert len(body) == size, f"{len(body):,} of {size:,} bytes arrived in {took:.1f} s"


# ------------------------------------------------------------------ idle sockets (finding 7)


def test_idle_sockets_under_a_low_fd_limit_cannot_keep_health_checks_out(tmp_path, server_process):
    """300 idle connections against a server allowed 256 open files (hard limit, so it cannot
    raise it): over its connection cap the longest-idle ones are closed, and /healthz answers."""
    server = server_process(tmp_path, env={"DIGITPAD_HEADER_TIMEOUT": "60"})
    server.cmd = ["prlimit", "--nofile=256:256", *server.cmd]
    with server:
        idle = []
        try:
            for _ in range(300):
                idle.append(connect(server.url))
            time.sleep(1.0)
            for attempt in range(3):
                try:
                    r = httpx.get(server.url + "/healthz", timeout=5)
                    break
                except httpx.HTTPError:
                    if attempt == 2:
                        raise
            assert r.status_code == 200, r.text
            assert httpx.head(server.url + "/healthz", timeout=5).status_code == 200
        finally:
            for s in idle:
                s.close()
        server.assert_alive()
        assert "closing the one idle" in server.log()


def test_the_fd_limit_is_raised_at_start(tmp_path, server_process):
    server = server_process(tmp_path)
    server.cmd = ["prlimit", "--nofile=200:4096", *server.cmd]
    with server:
        soft = int(Path(f"/proc/{server.proc.pid}/limits").read_text().split("Max open files")[1].split()[0])
    assert soft == 4096
