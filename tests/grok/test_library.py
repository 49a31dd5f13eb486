"""Pattern libraries: load order, overrides, folder layouts, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from logmetrics.errors import CompileError, LogmetricsError
from logmetrics.grok import PatternLibrary
from logmetrics.grok.expand import expand
from logmetrics.grok.library import stock_patterns_dir


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_stock_layer_comes_from_pygrok_and_project_layer_overrides_it():
    stock = stock_patterns_dir()
    assert stock is not None and (stock / "grok-patterns").is_file()
    lib = PatternLibrary.load()
    assert lib["USERNAME"].file.startswith(str(stock))
    # pygrok's files lack HTTPD_COMBINEDLOG; the project's patterns/httpd adds it,
    # and redefines COMBINEDAPACHELOG (stock defines it directly).
    assert lib["HTTPD_COMBINEDLOG"].file.endswith("httpd")
    assert lib["COMBINEDAPACHELOG"].body == "%{HTTPD_COMBINEDLOG}"


def test_user_folders_override_in_order(tmp_path):
    write(tmp_path / "one", "p", "WORD [a-z]+\nONLY1 x\n")
    write(tmp_path / "two", "p", "WORD [0-9]+\n")
    lib = PatternLibrary.load([tmp_path / "one", tmp_path / "two"])
    assert lib["WORD"].body == "[0-9]+" and lib["ONLY1"].body == "x"
    assert PatternLibrary.load()["WORD"].body == r"\b\w+\b"  # other libraries unaffected


def test_layouts_flat_legacy_and_ecs(tmp_path):
    write(tmp_path / "flat", "mine", "MINE flat\n")
    write(tmp_path / "core" / "legacy", "mine", "MINE legacy\n")
    write(tmp_path / "core" / "ecs-v1", "mine", "MINE ecs\n")
    write(tmp_path / "ecsonly" / "ecs-v1", "mine", "MINE only-ecs\n")
    assert PatternLibrary.load([tmp_path / "flat"])["MINE"].body == "flat"
    assert PatternLibrary.load([tmp_path / "core"])["MINE"].body == "legacy"
    assert PatternLibrary.load([tmp_path / "core" / "ecs-v1"])["MINE"].body == "ecs"
    assert PatternLibrary.load([tmp_path / "ecsonly"])["MINE"].body == "only-ecs"


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(LogmetricsError, match="nope: no such pattern file or folder"):
        PatternLibrary.load([tmp_path / "nope"])


def test_a_single_pattern_file(tmp_path):
    """grok_exporter users often keep their patterns in one file: --patterns FILE reads it."""
    write(tmp_path / "flat", "mine", "MINE flat\n")
    write(tmp_path, "extra", "MINE from-file\nOTHER x\n")
    lib = PatternLibrary.load([tmp_path / "flat", tmp_path / "extra"])
    assert lib["MINE"].body == "from-file" and lib["MINE"].where == f"{tmp_path / 'extra'}:1"
    assert lib["OTHER"].body == "x"


def test_comments_blank_lines_and_first_whitespace_split(tmp_path):
    write(tmp_path, "p", "# comment\n\n   \nTABBED\t\ta b  c \n  INDENTED x\n")
    lib = PatternLibrary.load([tmp_path])
    assert lib["TABBED"].body == "a b  c"
    assert (lib["TABBED"].line, lib["INDENTED"].line) == (4, 5)


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("GOOD a\n  BAD-NAME b\n", 2, 6, "bad pattern name 'BAD-NAME'"),
        ("GOOD a\n\nLONELY\n", 3, 7, "pattern LONELY has no regex"),
        ("ÄH x\n", 1, 1, "bad pattern name"),
    ],
)
def test_malformed_lines_name_file_line_and_column(tmp_path, text, line, col, message):
    path = write(tmp_path, "bad", text)
    with pytest.raises(CompileError) as info:
        PatternLibrary.load([tmp_path])
    assert (info.value.pos.file, info.value.pos.line, info.value.pos.col) == (str(path), line, col)
    assert message in info.value.message


def test_add_text_and_dict_and_cache_invalidation():
    lib = PatternLibrary.load()
    lib.add_dict({"TWO": "%{ONE}%{ONE}", "ONE": "a"})
    assert expand("%{TWO}", lib).regex == "(?:(?:a)(?:a))"
    lib.add_text("ONE b\n", "<test>")  # TWO's cached body must not survive
    assert expand("%{TWO}", lib).regex == "(?:(?:b)(?:b))"
    with pytest.raises(CompileError, match=r"<test>:1:4"):
        lib.add_text("ONE\n", "<test>")


def test_load_is_cheap_after_the_first():
    import time

    PatternLibrary.load()
    start = time.perf_counter()
    for _ in range(100):
        PatternLibrary.load()
    assert (time.perf_counter() - start) / 100 < 0.005  # pygrok: ~34 ms per Grok()
