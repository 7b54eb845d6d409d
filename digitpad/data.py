"""MNIST on disk: find, download (with checksum verification), parse and validate IDX files.

Files are read from the folder the caller names (CLI ``--data-dir`` or ``DIGITPAD_DATA_DIR``),
which is never created or written to: a missing folder or file there is one short error. Without
a folder, they come from a per-user cache dir, where missing files are downloaded from
well-known public mirrors (tried in turn); every download is checked against the canonical
gzip md5 and every load against the sha256 of the decompressed IDX bytes.

Everything here is numpy; torch tensors are made by ``digitpad.train``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

log = logging.getLogger(__name__)

DATA_HINT = "pass --data-dir DIR (or set DIGITPAD_DATA_DIR) to a folder with the four MNIST IDX files"


@dataclass(frozen=True)
class IdxFile:
    name: str  # canonical file name without .gz
    kind: str  # "images" or "labels"
    count: int
    gz_md5: str  # md5 of the canonical .gz download
    sha256: str  # sha256 of the decompressed IDX bytes (independent of gzip settings)


MNIST_FILES: dict[str, dict[str, IdxFile]] = {
    "train": {
        "images": IdxFile("train-images-idx3-ubyte", "images", 60000,
                          "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                          "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "labels": IdxFile("train-labels-idx1-ubyte", "labels", 60000,
                          "d53e105ee54ea40749a09fcbcd1e9432",
                          "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    },
    "test": {
        "images": IdxFile("t10k-images-idx3-ubyte", "images", 10000,
                          "9fb629c4189551a2d022fa330f9573f3",
                          "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "labels": IdxFile("t10k-labels-idx1-ubyte", "labels", 10000,
                          "ec29112dd5afa0611ce80d1b7f02629c",
                          "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
}

# Public mirrors that serve the four canonical files under their canonical names.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x00000803 (3-dim uint8), 0x00000801 (1-dim uint8)


def default_data_dir() -> Path:
    """Per-user cache dir used when no --data-dir / DIGITPAD_DATA_DIR is given."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("digitpad")) / "mnist"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_idx_bytes(path: Path) -> bytes:
    """Raw IDX bytes of ``path``, gunzipping when it is gzip (by magic bytes, not extension)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}", hint=DATA_HINT) from e
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DataError(
                f"{path} is a corrupt or truncated gzip file ({e})",
                hint=f"delete {path} so it is downloaded again, or {DATA_HINT}",
            ) from e
    return raw


def parse_idx(data: bytes, *, kind: str, source: str = "<bytes>", expected_count: int | None = None) -> np.ndarray:
    """Parse IDX bytes into uint8 arrays: images (N, 28, 28) or labels (N,)."""
    fix = f"delete {source} so it is downloaded again, or {DATA_HINT}"
    if len(data) < 8:
        raise DataError(f"{source} is too short to be an IDX file ({len(data)} bytes)", hint=fix)
    magic = int.from_bytes(data[0:4], "big")
    if magic != _IDX_MAGIC[kind]:
        raise DataError(
            f"{source} has magic number {magic:#010x}, expected {_IDX_MAGIC[kind]:#010x} for MNIST {kind}",
            hint=fix,
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source} is truncated inside its header", hint=fix)
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = dims[0]
    if kind == "images" and dims[1:] != [28, 28]:
        raise DataError(f"{source} holds {dims[1]}x{dims[2]} images, expected 28x28", hint=fix)
    if expected_count is not None and count != expected_count:
        raise DataError(f"{source} says it holds {count} {kind}, expected {expected_count}", hint=fix)
    expected_bytes = header + int(np.prod(dims))
    if len(data) != expected_bytes:
        what = "truncated" if len(data) < expected_bytes else "longer than its header says"
        raise DataError(
            f"{source} is {what}: {len(data)} bytes, header implies {expected_bytes}", hint=fix
        )
    arr = np.frombuffer(data, dtype=np.uint8, offset=header)
    return arr.reshape(dims).copy()


def find_file(data_dir: Path, spec: IdxFile) -> Path | None:
    """The file for ``spec`` in ``data_dir``, gzipped or not (also the common ``.idx3-`` spelling)."""
    stems = [spec.name, spec.name.replace("-idx", ".idx")]
    for stem in stems:
        for name in (stem + ".gz", stem):
            p = data_dir / name
            if p.is_file():
                return p
    return None


def download_file(spec: IdxFile, dest_dir: Path, *, mirrors: tuple[str, ...] = MIRRORS, timeout: float = 30.0) -> Path:
    """Download ``spec`` from the first mirror that serves a file with the canonical md5.

    The file is written atomically (temp file + rename) so an interrupted download never
    leaves a half file that would later look like data.
    """
    from tqdm import tqdm

    dest_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for base in mirrors:
        url = base + spec.name + ".gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                chunks = []
                with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, leave=False) as bar:
                    while chunk := resp.read(1 << 16):
                        chunks.append(chunk)
                        bar.update(len(chunk))
                body = b"".join(chunks)
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        md5 = hashlib.md5(body).hexdigest()
        if md5 != spec.gz_md5:
            errors.append(f"{url}: md5 {md5} != {spec.gz_md5}")
            continue
        try:
            content = gzip.decompress(body)
        except (OSError, EOFError) as e:
            errors.append(f"{url}: bad gzip ({e})")
            continue
        if _sha256(content) != spec.sha256:
            errors.append(f"{url}: decompressed sha256 mismatch")
            continue
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        target = dest_dir / (spec.name + ".gz")
        os.replace(tmp, target)
        log.info("downloaded %s from %s", spec.name, base)
        return target
    raise DataError(
        f"MNIST file {spec.name} is not in {dest_dir} and could not be downloaded "
        f"({'; '.join(errors) or 'no mirrors'})",
        hint=DATA_HINT,
    )


def load_split(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    verify: bool = True,
    mirrors: tuple[str, ...] = MIRRORS,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 (white ink on black, as MNIST is) and labels (N,) uint8.

    ``download``: fetch missing files; by default only into the per-user cache (``data_dir``
    None), never into a folder the user named (a typo must not create folders or go online).
    """
    if split not in MNIST_FILES:
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    if data_dir is None:
        ddir = default_data_dir()
        download = True if download is None else download
    else:
        ddir = Path(data_dir)
        if not ddir.is_dir():
            raise DataError(f"no such folder: {ddir}",
                            hint="check the path; without --data-dir or DIGITPAD_DATA_DIR, MNIST is downloaded once")
        download = bool(download)
    out = {}
    for kind, spec in MNIST_FILES[split].items():
        path = find_file(ddir, spec)
        if path is None:
            if not download:
                raise DataError(f"MNIST file {spec.name}(.gz) not found in {ddir}", hint=DATA_HINT)
            path = download_file(spec, ddir, mirrors=mirrors)
        data = read_idx_bytes(path)
        if verify and _sha256(data) != spec.sha256:
            # Parse first: a structural problem gives a more precise message than a checksum.
            parse_idx(data, kind=kind, source=str(path), expected_count=spec.count)
            raise DataError(
                f"{path} fails its sha256 check (not the canonical MNIST {split} {kind})",
                hint=f"delete {path} so it is downloaded again, or {DATA_HINT}",
            )
        out[kind] = parse_idx(data, kind=kind, source=str(path), expected_count=spec.count)
    return out["images"], out["labels"]


def checksums() -> dict[str, str]:
    """sha256 of every decompressed file, recorded in model artifacts."""
    return {spec.name: spec.sha256 for files in MNIST_FILES.values() for spec in files.values()}


def split_train_val(images: np.ndarray, labels: np.ndarray, cfg):
    """Seeded split of the 60k training set into train and validation (never the test set).

    ``cfg``: a ``recipe`` config (``split_seed``, ``val_size``, ``limit``).
    -> ((train images, labels), (validation images, labels)); ``cfg.limit`` caps both (cheap mode).
    """
    perm = np.random.RandomState(cfg.split_seed).permutation(len(images))
    n_val = cfg.val_size
    if cfg.limit:
        n_val = min(n_val, max(256, cfg.limit // 4))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if cfg.limit:
        train_idx = train_idx[: cfg.limit]
    return (images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx])
