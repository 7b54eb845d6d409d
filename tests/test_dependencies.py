"""Installs are reproducible: ``constraints.txt`` pins an exact version of every requirement of
pyproject.toml (the serving dependencies and every extra), each within the range pyproject.toml
allows, and the Makefile and the Dockerfile install through it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_requirement_is_pinned_within_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    pins = _pins()
    # (pip freeze leaves setuptools out: the build backend, which the dev extra asks for by name)
    missing = [r.name for r in reqs if canonicalize_name(r.name) not in pins and r.name != "setuptools"]
    assert not missing, f"not in constraints.txt (run `make lock`): {missing}"
    outside = [f"{r} (pinned {pins[canonicalize_name(r.name)]})" for r in reqs if canonicalize_name(r.name) in pins
               and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)]
    assert not outside, f"constraints.txt pins outside pyproject.toml's ranges: {outside}"


def test_installs_go_through_the_constraints():
    make = (REPO / "Makefile").read_text()
    installs = [line for line in make.splitlines() if "$(PIP) install" in line and "-e " in line]
    assert len(installs) == 2 and all("-c constraints.txt" in line for line in installs), installs
    docker = re.sub(r"\\\n", " ", (REPO / "deploy" / "Dockerfile").read_text())
    assert re.search(r'pip install -c constraints\.txt "\.\[postgres\]"', docker)
    assert "!constraints.txt" in (REPO / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
