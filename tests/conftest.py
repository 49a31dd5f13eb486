"""The suite tests the installed package, never the checkout.

pytest runs in importlib mode (see pyproject.toml): it puts no folder on
``sys.path``, so ``import logmetrics`` finds only what pip installed, and the
tests' own modules (``tests.helpers``, ``tests.cli.test_daemon``) are imported
through the ``tests`` package that pytest loads from its files. The check below
stops the run at once if logmetrics comes from anywhere else (an editable
install, ``python -m pytest`` run in the checkout, which puts the current
folder first on ``sys.path``, or ``PYTHONPATH``), and if the console script the
command-line tests run is missing.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import SCRIPT, installed_package


def site_packages() -> set[Path]:
    """This interpreter's (the venv's) site-packages folders."""
    return {Path(sysconfig.get_path(name)).resolve() for name in ("purelib", "platlib")}


def pytest_sessionstart(session: pytest.Session) -> None:
    package = installed_package()
    if package.parent not in site_packages():
        pytest.exit(f"logmetrics is imported from {package}, not from this interpreter's site-packages "
                    f"({', '.join(map(str, sorted(site_packages())))}): the tests must run against the "
                    "installed package. Install it with `pip install .` (not -e) and run the `pytest` "
                    "script, not `python -m pytest`, with no PYTHONPATH.", returncode=4)
    if not SCRIPT.is_file():
        pytest.exit(f"the console script {SCRIPT} is missing: install the package with `pip install .` "
                    "into this interpreter's environment", returncode=4)


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One-shot commands keep compiled programs in the user's cache folder: the suite's runs of
    the console script use a folder of its own, never the real one."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
