"""The package import graph in docs/architecture.md is the code's, and it has no cycle."""

from __future__ import annotations

import importlib.util

from tests.helpers import REPO

_spec = importlib.util.spec_from_file_location("import_graph", REPO / "docs" / "import_graph.py")
assert _spec is not None and _spec.loader is not None
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)


def test_no_package_imports_itself_back():
    edges = import_graph.graph()
    assert {"cli", "commands", "daemon", "runtime", "lang", "sources", "store", "exposition"} <= set(edges)
    assert import_graph.cycles(edges) == []
    # The store knows nothing of programs or formats; its guards' defaults are the command line's.
    assert edges["store"] <= {"defaults"}


def test_the_documented_graph_is_the_code_s():
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert import_graph.section(import_graph.graph()) in page, \
        "docs/architecture.md is out of date: run python docs/import_graph.py --write"


def test_a_cycle_is_found():
    assert import_graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]]
