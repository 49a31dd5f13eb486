"""What pip installs is the checkout: every module, bundled program, pattern file and bundled test
case of the source tree is in the installed package with the same bytes, and no module is there
that the source tree no longer has (setuptools' build/ folder keeps deleted ones)."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

from tests.helpers import REPO, installed_package

SOURCE = REPO / "logmetrics"


def package_files(root: Path) -> set[str]:
    """Every file of the package under ``root`` (modules, assets), as a relative path; the bundled
    programs and patterns are links to the top of the repository, listed by :func:`bundled_files`."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not Path(folder, d).is_symlink()]
        found.update(str(Path(folder, f).relative_to(root)) for f in files if not f.endswith(".pyc"))
    return found


def bundled_files(root: Path) -> set[str]:
    """The bundled data pyproject.toml's package-data names (programs, their cases, patterns...)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    found = set()
    for package, globs in project["tool"]["setuptools"]["package-data"].items():
        folder = root.joinpath(*package.split(".")[1:])
        found.update(str(path.relative_to(root)) for glob in globs for path in folder.glob(glob)
                     if path.is_file())
    return found


def test_the_tests_import_the_installed_package():
    """(conftest.py checks it at the start of the run; a venv may live inside the checkout.)"""
    assert installed_package() != SOURCE.resolve()
    assert installed_package().parent.name == "site-packages"


def same_bytes(files: set[str]) -> list[str]:
    """The files of ``files`` whose installed copy differs from the checkout's."""
    return [f for f in sorted(files) if (SOURCE / f).read_bytes() != (installed_package() / f).read_bytes()]


def test_every_module_and_asset_of_the_checkout_is_installed():
    ours, installed = package_files(SOURCE), package_files(installed_package())
    assert len([f for f in ours if f.endswith(".py")]) > 50
    assert sorted(ours - installed) == [], "files missing from the installed package"
    extra = sorted(f for f in installed - ours if f.endswith(".py"))
    assert extra == [], "modules installed that the checkout lacks: remove a stale build/ and *.egg-info/"
    assert same_bytes(ours) == [], "installed files differ from the checkout's: `pip install .` again"


def test_every_bundled_program_pattern_and_case_is_installed():
    ours, installed = bundled_files(SOURCE), bundled_files(installed_package())
    assert {"programs/apache_access.mtail", "patterns/httpd", "programs/testdata/apache_access.log",
            "programs/testdata/apache_access.prom"} <= ours
    assert sorted(ours - installed) == [], "bundled files missing from the installed package"
    assert same_bytes(ours) == [], "installed files differ from the checkout's: `pip install .` again"


def test_one_minimum_python():
    """The README, pyproject.toml and mypy name the same minimum Python, and .ci/run tests on it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    minimum = project["project"]["requires-python"].removeprefix(">=")
    assert project["tool"]["mypy"]["python_version"] == minimum
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"Python (\d+\.\d+)\+", readme)) == {minimum}
    assert sys.version_info >= tuple(map(int, minimum.split(".")))
