"""The listening sockets of `digitpad serve`: the address check, and one socket per worker on Linux."""

from __future__ import annotations

import pickle
import socket
import time

import pytest

from digitpad.errors import DigitpadError
from digitpad.web import sockets as workers


def test_check_address_finds_a_free_port_for_0() -> None:
    port = workers.check_address("127.0.0.1", 0)
    assert 0 < port < 65536
    with socket.socket() as s:  # and it is free again: the probe does not hold it
        s.bind(("127.0.0.1", port))


def test_check_address_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DigitpadError) as err:
            workers.check_address("127.0.0.1", port)
    assert err.value.code == "address_in_use"
    assert f"127.0.0.1:{port} is already in use" in str(err.value)
    assert "--port" in err.value.hint


def test_check_address_refuses_an_address_of_another_machine() -> None:
    with pytest.raises(DigitpadError) as err:
        workers.check_address("192.0.2.1", 0)  # TEST-NET-1: never an address of this machine
    assert err.value.code == "bad_address"
    assert "--host" in err.value.hint


@pytest.mark.skipif(not workers.PER_WORKER_SOCKETS, reason="SO_REUSEPORT spreads connections on Linux only")
def test_a_worker_socket_unpickles_as_a_socket_of_its_own() -> None:
    """What uvicorn's supervisor does with its sockets: pickle them into each worker it spawns."""
    port = workers.check_address("127.0.0.1", 0)
    first = pickle.loads(pickle.dumps([workers.WorkerSocket("127.0.0.1", port)]))[0]
    second = pickle.loads(pickle.dumps([workers.WorkerSocket("127.0.0.1", port)]))[0]
    try:
        for sock in (first, second):  # two sockets on one port, as two workers would have
            assert isinstance(sock, socket.socket)
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.listen()
        assert first.fileno() != second.fileno()
        with pytest.raises(DigitpadError):  # and a second digitpad is refused while they listen
            workers.check_address("127.0.0.1", port)
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(not workers.PER_WORKER_SOCKETS, reason="SO_REUSEPORT spreads connections on Linux only")
def test_a_worker_whose_port_was_taken_fails_its_start_up(capfd: pytest.CaptureFixture[str]) -> None:
    """A start-up failure (exit code 3) makes uvicorn's supervisor stop, rather than respawn forever."""
    from uvicorn.config import STARTUP_FAILURE

    with socket.socket() as taken:  # no SO_REUSEPORT: nobody may share this port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        data = pickle.dumps(workers.WorkerSocket("127.0.0.1", taken.getsockname()[1]))
        with pytest.raises(SystemExit) as exit_:
            pickle.loads(data)
    assert exit_.value.code == STARTUP_FAILURE
    assert "cannot listen on 127.0.0.1" in capfd.readouterr().err


def test_workers_agree_on_the_model_they_hand_to_devices(tmp_path, server_process) -> None:
    """Two workers, and the model file replaced after they started: every worker still names and
    serves the bytes it loaded (one hash, one URL), never the file as it is now on disk."""
    import hashlib
    import shutil

    import httpx

    from digitpad.artifact import default_model_path, float_model_path

    model = tmp_path / "model.onnx"
    shutil.copy(default_model_path(), model)
    loaded = hashlib.sha256(model.read_bytes()).hexdigest()
    with server_process(tmp_path, "--workers", "2", "--model", str(model)) as server:
        # Ready means one worker answers; wait until both have opened the model (in their lifespan),
        # so that the swap below happens under two running workers, as the docstring says.
        deadline = time.monotonic() + 60
        while server.log().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.log().count("Application startup complete") >= 2, server.log()
        shutil.copy(float_model_path(), model)  # a new model file swapped in under the running workers
        urls, versions, served = set(), set(), set()
        for _ in range(40):  # new connections: the kernel spreads them over both workers' sockets
            with httpx.Client(base_url=server.url) as c:
                urls.add(c.get("/api/config").json()["model_url"])
                versions.add(c.get("/api/model").json()["version"])
                served.add(hashlib.sha256(c.get("/api/model.onnx").content).hexdigest())
    assert urls == {f"api/model.onnx?v={loaded[:16]}"}, urls
    assert served == {loaded} and len(versions) == 1, (served, versions)
