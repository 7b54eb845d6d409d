"""MNIST IDX parsing, checksum verification, downloading and the offline error."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from digitpad import data
from digitpad.errors import DataError


def idx_images(n: int, rows: int = 28, cols: int = 28) -> bytes:
    header = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + rows.to_bytes(4, "big") + cols.to_bytes(4, "big")
    return header + bytes(range(256)) * (n * rows * cols // 256) + bytes(n * rows * cols % 256)


def idx_labels(labels: list[int]) -> bytes:
    return (2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels)


def test_parse_good_images_and_labels():
    imgs = data.parse_idx(idx_images(3), kind="images")
    assert imgs.shape == (3, 28, 28) and imgs.dtype == np.uint8
    assert imgs[0, 0, :4].tolist() == [0, 1, 2, 3]
    labels = data.parse_idx(idx_labels([7, 2, 1]), kind="labels")
    assert labels.tolist() == [7, 2, 1]


def test_truncated_file_names_file_and_fix():
    with pytest.raises(DataError) as e:
        data.parse_idx(idx_images(3)[:-100], kind="images", source="x/train-images")
    assert "x/train-images" in e.value.message and "truncated" in e.value.message
    assert "--data-dir" in e.value.hint


def test_wrong_magic_is_reported():
    with pytest.raises(DataError, match="magic number"):
        data.parse_idx(idx_labels([1, 2]), kind="images")


def test_count_mismatch_is_reported():
    with pytest.raises(DataError, match="holds 3 labels, expected 60000"):
        data.parse_idx(idx_labels([1, 2, 3]), kind="labels", expected_count=60000)


def test_header_only_and_tiny_files():
    with pytest.raises(DataError, match="too short"):
        data.parse_idx(b"\x00\x00", kind="labels")
    with pytest.raises(DataError, match="header"):
        data.parse_idx((2051).to_bytes(4, "big") + (5).to_bytes(4, "big"), kind="images")


def test_corrupt_gzip_names_the_file(tmp_path: Path):
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_labels([1] * 100))[:-20])
    with pytest.raises(DataError) as e:
        data.read_idx_bytes(p)
    assert str(p) in e.value.message and "gzip" in e.value.message


def test_real_mnist_loads_with_checksums(mnist_dir: Path):
    x, y = data.load_split("test", mnist_dir, download=False)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert set(np.unique(y).tolist()) == set(range(10))
    # White ink on black, as MNIST is: mostly zero background.
    assert (x == 0).mean() > 0.7


def test_wrong_content_fails_checksum(tmp_path: Path, mnist_dir: Path):
    """A structurally valid file with other content is caught by the sha256 check."""
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    labels = data.read_idx_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz")
    tampered = labels[:8] + bytes([(labels[8] + 1) % 10]) + labels[9:]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(tampered))
    with pytest.raises(DataError, match="sha256"):
        data.load_split("test", tmp_path, download=False)


def test_uncompressed_files_are_accepted(tmp_path: Path, mnist_dir: Path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((mnist_dir / (name + ".gz")).read_bytes()))
    x, y = data.load_split("test", tmp_path, download=False)
    assert len(x) == len(y) == 10000


def test_offline_without_data_gives_one_clear_message(tmp_path: Path, monkeypatch):
    # No folder named: the per-user cache is used, and missing files are downloaded into it.
    # Port 9 on loopback: nothing listens, the connection is refused at once (no internet needed).
    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path / "cache" / "mnist")
    with pytest.raises(DataError) as e:
        data.load_split("test", mirrors=("http://127.0.0.1:9/",))
    assert "could not be downloaded" in e.value.message
    assert "--data-dir" in e.value.hint and "DIGITPAD_DATA_DIR" in e.value.hint


def test_a_named_folder_is_never_created_nor_downloaded_into(tmp_path: Path, mirror, mnist_dir: Path):
    """A folder the user named (--data-dir, DIGITPAD_DATA_DIR) is only read: a typo is one short
    line naming it, and an existing folder without the files is not filled from the internet."""
    root, url = mirror  # a working mirror: if anything tried to download, it would succeed
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, root / name)
    typo = tmp_path / "dta" / "mnist"
    with pytest.raises(DataError) as e:
        data.load_split("test", typo, mirrors=(url,))
    assert e.value.message == f"no such folder: {typo}"
    assert not (tmp_path / "dta").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="not found in"):
        data.load_split("test", empty, mirrors=(url,))
    assert list(empty.iterdir()) == []


def test_without_a_named_folder_the_cache_is_filled_from_a_mirror(tmp_path: Path, mirror, mnist_dir: Path,
                                                                   monkeypatch):
    root, url = mirror
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, root / name)
    cache = tmp_path / "cache" / "mnist"
    monkeypatch.setattr(data, "default_data_dir", lambda: cache)
    x, y = data.load_split("test", mirrors=("http://127.0.0.1:9/", url))
    assert len(x) == len(y) == 10000
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture
def mirror(tmp_path: Path, mnist_dir: Path):
    """A real HTTP server on loopback serving a folder, like a public mirror."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_verifies_md5_and_caches(mirror, tmp_path: Path, mnist_dir: Path):
    root, url = mirror
    spec = data.MNIST_FILES["test"]["labels"]  # the shared copy of this file is byte-identical to the canonical one
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz")
    dest = tmp_path / "cache"
    path = data.download_file(spec, dest, mirrors=("http://127.0.0.1:9/", url))  # first mirror dead: next one
    assert path == dest / "t10k-labels-idx1-ubyte.gz"
    labels = data.parse_idx(data.read_idx_bytes(path), kind="labels", expected_count=10000)
    assert labels[:3].tolist() == [7, 2, 1]


def test_download_rejects_wrong_file(mirror, tmp_path: Path):
    root, url = mirror
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_labels([1] * 10000)))
    with pytest.raises(DataError, match="md5"):
        data.download_file(data.MNIST_FILES["test"]["labels"], tmp_path / "cache", mirrors=(url,))
    assert not list((tmp_path / "cache").glob("*.gz")), "a rejected download must not be cached"
