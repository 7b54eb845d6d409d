"""Docs cannot drift: every `digitpad ...` command shown in the README runs and exits 0.

Commands are run as shown, with three adjustments: the data paths point at this machine's copy
(DIGITPAD_DATA_DIR / DIGITPAD_PENDIGITS / DIGITPAD_UNIPEN), training-like commands run in their
cheap mode (and with 12 handwriting records per source at most), and outputs go to a temporary
folder (nothing is shipped into the package). `serve` is long-running and covered by the server tests.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHEAP = {"--epochs": "1", "--limit": "2048", "--batch-size": "64"}
CHEAP_SEQUENCE = {"--strings": "48", "--mnist": "16", "--epochs": "1", "--val-strings": "4"}  # digitpad train-sequence


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("digitpad "):
                cmds.append(line)
    return cmds


def adapt(cmd: str, tmp: Path) -> list[str]:
    args = shlex.split(cmd, comments=True)
    data_dir, pendigits = os.environ.get("DIGITPAD_DATA_DIR", ""), os.environ.get("DIGITPAD_PENDIGITS", "")
    unipen = os.environ.get("DIGITPAD_UNIPEN", "")
    out: list[str] = []
    for a in args[1:]:
        a = a.replace("../shared/data/mnist", data_dir)
        a = a.replace("../shared/data/pendigits/trajectories-dev.jsonl.gz", pendigits)
        a = a.replace("../shared/data/unipen", unipen)
        out.append(a)
    if out and out[0] in ("train", "finetune", "quantize"):
        out = [a for a in out if a != "--ship"]
    if out and out[0] in ("train", "finetune", "train-sequence"):
        for flag, value in (CHEAP_SEQUENCE if out[0] == "train-sequence" else CHEAP).items():
            if flag in out:
                out[out.index(flag) + 1] = value
            else:
                out += [flag, value]
        if out[0] == "train-sequence":
            return [sys.executable, "-m", "digitpad.cli", *out]
        if "--epoch-images" in out:
            out[out.index("--epoch-images") + 1] = CHEAP["--limit"]
        out += ["--no-progress"] if out[0] == "train" and "--no-progress" not in out else []
        out += ["--handwriting-limit", "12"] if "--unipen" in out and "--handwriting-limit" not in out else []
    return [sys.executable, "-m", "digitpad.cli", *out]


COMMANDS = readme_commands()


def test_readme_shows_commands():
    assert len(COMMANDS) >= 5, COMMANDS


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if not c.startswith("digitpad serve")])
def test_readme_command_runs(cmd: str, tmp_path_factory, mnist_dir: Path):
    # One working folder for all README commands, in order, so later ones see earlier outputs
    # (e.g. `train --resume` after `train`); `tests` is visible in it as in the repo root.
    work = tmp_path_factory.getbasetemp() / "readme-cwd"
    if not work.exists():
        work.mkdir()
        (work / "tests").symlink_to(REPO / "tests")
    env = dict(os.environ, DIGITPAD_DATABASE_URL=f"sqlite:///{work / 'feedback.db'}")
    r = subprocess.run(adapt(cmd, work), cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
