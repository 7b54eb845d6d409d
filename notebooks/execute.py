"""Re-execute a notebook with nbclient and save it with its outputs (what `make notebook` runs).

    python notebooks/execute.py notebooks/model.ipynb                       # full run, in place
    python notebooks/execute.py notebooks/model.ipynb --fast --output /tmp/model.ipynb

``--fast`` sets ``DIGITPAD_NOTEBOOK_FAST=1`` for the kernel (subsets, quick baselines); data paths
come from the usual ``DIGITPAD_DATA_DIR`` / ``DIGITPAD_PENDIGITS`` variables, which the kernel
inherits. The kernel is always this interpreter (the venv's python), whatever ``python3`` kernel
specs the user has installed elsewhere. A notebook whose execution fails is not written over:
the error is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


class _ThisInterpreter(KernelSpecManager):
    """Every kernel name resolves to ipykernel running on ``sys.executable``.

    A ``python3`` spec in ~/.local/share/jupyter would otherwise take precedence over the
    venv's own and could start a kernel on an interpreter without digitpad installed.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


def execute(path: Path, output: Path | None = None, *, fast: bool = False, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run every cell of ``path`` (cwd: the notebook's folder) and write the result to ``output``
    (default: in place). Raises CellExecutionError on the first failing cell, writing nothing."""
    nb = nbformat.read(path, as_version=4)
    # The kernel inherits this process's environment.
    if fast:
        os.environ["DIGITPAD_NOTEBOOK_FAST"] = "1"
    else:
        os.environ.pop("DIGITPAD_NOTEBOOK_FAST", None)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=_ThisInterpreter())
    client = NotebookClient(
        nb, km=km, timeout=timeout,
        # No per-cell timestamps: re-running an unchanged notebook should give a small diff.
        record_timing=False,
        resources={"metadata": {"path": str(Path(path).resolve().parent)}},
    )
    client.execute()
    nbformat.validate(nb)
    nbformat.write(nb, output or path)
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", type=Path, nargs="?", default=Path(__file__).with_name("model.ipynb"))
    ap.add_argument("--output", type=Path, help="write the executed notebook here instead of in place")
    ap.add_argument("--fast", action="store_true", help="DIGITPAD_NOTEBOOK_FAST=1: subsets, quick baselines")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds any one cell may run")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        execute(args.notebook, args.output, fast=args.fast, timeout=args.timeout)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        print(f"error: {args.notebook} failed; it was not written.\n{e}", file=sys.stderr)
        return 1
    mode = "fast" if args.fast else "full"
    print(f"executed {args.notebook} ({mode} mode) in {time.perf_counter() - t0:.0f} s -> {args.output or args.notebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
