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
#: The bundled data and where it lives in the checkout (linked into logmetrics/ for the package).
DATA = {"programs": ("*.mtail", "testdata/*.log", "testdata/*.prom"), "patterns": ("*",)}


def modules(root: Path) -> set[str]:
    """Every Python module under ``root``, as a relative path (the bundled data's links not followed)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not Path(folder, d).is_symlink()]
        found.update(str(Path(folder, f).relative_to(root)) for f in files if f.endswith(".py"))
    return found


def data_files(root: Path) -> set[str]:
    """Every bundled program, pattern file and test case under ``root``, as a relative path."""
    return {str(path.relative_to(root)) for name, globs in DATA.items() for glob in globs
            for path in (root / name).glob(glob)
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".py")}


def test_the_tests_import_the_installed_package():
    assert installed_package() != SOURCE.resolve()
    assert not installed_package().is_relative_to(REPO)


def test_every_module_of_the_checkout_is_installed():
    ours, installed = modules(SOURCE), modules(installed_package())
    assert len(ours) > 50
    assert sorted(ours - installed) == [], "modules missing from the installed package"
    assert sorted(installed - ours) == [], "modules installed that the checkout does not have"
    changed = [m for m in sorted(ours) if (SOURCE / m).read_bytes() != (installed_package() / m).read_bytes()]
    assert changed == [], "installed modules differ from the checkout's: reinstall with `pip install .`"


def test_every_bundled_program_pattern_and_case_is_installed():
    ours, installed = data_files(SOURCE), data_files(installed_package())
    assert {"programs/apache_access.mtail", "patterns/httpd", "programs/testdata/apache_access.log",
            "programs/testdata/apache_access.prom"} <= ours
    assert sorted(ours - installed) == [], "bundled files missing from the installed package"
    changed = [f for f in sorted(ours) if (SOURCE / f).read_bytes() != (installed_package() / f).read_bytes()]
    assert changed == [], "installed bundled files differ from the checkout's: reinstall with `pip install .`"


def test_one_minimum_python():
    """The README, pyproject.toml and mypy name the same minimum Python, and .ci/run tests on it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    minimum = project["project"]["requires-python"].removeprefix(">=")
    assert project["tool"]["mypy"]["python_version"] == minimum
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"Python (\d+\.\d+)\+", readme)) == {minimum}
    assert sys.version_info >= tuple(map(int, minimum.split(".")))
