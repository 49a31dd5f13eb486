"""The README and every page of docs/ stay true: their links resolve, their programs compile, the
options their commands use exist, their PromQL and Prometheus configuration parse, and the dry-run
output they show is what the installed console script prints."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = Path(sys.executable).with_name("logmetrics")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")


def code_blocks(page: Path) -> list[str]:
    """The page's indented code blocks, dedented, each as one string."""
    blocks: list[list[str]] = []
    previous_blank = True
    current: list[str] | None = None
    for line in page.read_text(encoding="utf-8").split("\n"):
        if current is not None and (line.startswith("    ") or not line.strip()):
            current.append(line[4:])
            continue
        if current is not None:
            blocks.append(current)
            current = None
        if line.startswith("    ") and previous_blank:
            current = [line[4:]]
        previous_blank = not line.strip()
    if current is not None:
        blocks.append(current)
    return ["\n".join(block).strip("\n") for block in blocks]


def all_blocks() -> list[tuple[str, str]]:
    return [(page.name, block) for page in PAGES for block in code_blocks(page)]


def is_program(block: str) -> bool:
    """A block that is a whole program, not a syntax summary (those name their parts in capitals)."""
    code = [line for line in block.split("\n") if line.strip() and not line.startswith("#")]
    return bool(code) and re.match(r"(counter|gauge|histogram|const|def) [a-z_]|/", code[0]) is not None


def commands(block: str) -> list[list[str]]:
    """The logmetrics command lines of a block (continuations joined), as words."""
    found = []
    for line in re.sub(r"\\\n\s*", " ", block).split("\n"):
        line = line.removeprefix("$ ").split(" #", 1)[0]
        for part in line.split("&&"):
            if "logmetrics" not in part:
                continue
            words = shlex.split(part.replace("[", " ").replace("]", " ").replace("&", " "))
            names = [i for i, word in enumerate(words) if word.rsplit("/", 1)[-1] == "logmetrics"]
            if names:
                found.append(words[names[0] + 1:])
    return found


@cache
def help_text(*subcommand: str) -> str:
    result = subprocess.run([str(SCRIPT), *subcommand, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"logmetrics {' '.join(subcommand)} --help: {result.stderr}"
    return result.stdout


def test_the_pages_are_there_and_the_readme_stays_short():
    names = {page.name for page in PAGES}
    for name in ("deployment.md", "commands.md", "language.md", "cookbook.md", "mtail.md", "grok_exporter.md",
                 "benchmarks.md", "testing.md"):
        assert name in names
    assert (REPO / "README.md").stat().st_size < 12_000


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading, as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_resolves_to_a_file_and_heading():
    checked = 0
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.is_file(), f"{page.name}: link to missing {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.M)
                assert anchor in {slug(h) for h in headings}, f"{page.name}: no heading for {target}"
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("page,block", [b for b in all_blocks() if is_program(b[1])],
                         ids=lambda v: str(v)[:30])
def test_every_program_in_the_docs_compiles(page, block, tmp_path):
    program = tmp_path / "doc.mtail"
    program.write_text(block + "\n", encoding="utf-8")
    result = subprocess.run([str(SCRIPT), "check", "--progs", str(program)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"{page}:\n{block}\n{result.stdout}{result.stderr}"


def test_every_option_a_documented_command_uses_exists():
    checked = 0
    for page, block in all_blocks():
        for words in commands(block):
            if not words or words[0].startswith("-"):
                continue
            sub = tuple(words[:2]) if words[0] == "convert" else (words[0],)
            text = help_text(*sub)
            for word in words[len(sub):]:
                option = word.split("=", 1)[0]
                if re.fullmatch(r"--?[a-z][a-z-]*", option):
                    assert re.search(rf"(^|[\s,]){re.escape(option)}(?![\w-])", text), \
                        f"{page}: logmetrics {' '.join(sub)} has no {option}"
                    checked += 1
    assert checked >= 20


def test_the_dry_run_example_prints_what_the_docs_show():
    shown = [block for _, block in all_blocks() if block.startswith("$ logmetrics dry-run examples/")]
    assert shown
    for block in shown:
        command, *expected = block.split("\n")
        result = subprocess.run([str(SCRIPT), *shlex.split(command[2:])[1:]], capture_output=True, text=True,
                                cwd=REPO, timeout=60)
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        for line in expected:
            if line.strip() == "...":
                continue
            pattern = ".*".join(re.escape(part) for part in line.split("..."))
            assert re.search(pattern, output, flags=re.M), f"not printed: {line}"


QUERY = re.compile(r"\b(rate|increase)\(")


def promql() -> list[str]:
    """Every PromQL expression of the docs: code lines and inline code using rate() or increase()."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found += [span for span in re.findall(r"`([^`\n]+)`", text) if QUERY.search(span)]
        for block in code_blocks(page):
            found += [line for line in block.split("\n") if QUERY.search(line) and not line.startswith("#")]
    return found


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_the_promql_and_scrape_config_in_the_docs_parse(tmp_path):
    expressions = promql()
    assert len(expressions) >= 4
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: docs\n    rules:\n" + "".join(
        f"      - record: docs:expr{i}\n        expr: {json.dumps(expr)}\n"
        for i, expr in enumerate(expressions)), encoding="utf-8")
    checked = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    configs = [block for _, block in all_blocks() if block.startswith("scrape_configs:")]
    assert configs
    for block in configs:
        config = tmp_path / "prometheus.yml"
        config.write_text(block + "\n", encoding="utf-8")
        checked = subprocess.run(["promtool", "check", "config", "--syntax-only", str(config)],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
