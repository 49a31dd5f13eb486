"""Grok: the pattern library, expansion, and Logstash's own patterns (dialect translation is in
test_translate.py)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from logmetrics.errors import CompileError
from logmetrics.grok import GrokError, PatternLibrary, RegexSyntaxError, compile_regex
from logmetrics.grok.expand import expand
from logmetrics.grok.translate import translate
from tests.helpers import SHARED_DATA, run, values

LOGSTASH = SHARED_DATA / "grok" / "logstash-patterns-core" / "patterns"
needs_logstash = pytest.mark.skipif(not LOGSTASH.exists(), reason="shared test data is not present")


# --- the library -------------------------------------------------------------------


def test_layers_override_in_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "p").write_text("# comment\n\nMINE x+\nINT overridden\n", encoding="utf-8")
    (second / "p").write_text("MINE y+\n", encoding="utf-8")
    stock = PatternLibrary.load()
    assert "INT" in stock and "HTTPD_COMBINEDLOG" in stock  # pygrok's files, then patterns/
    lib = PatternLibrary.load([first, second])
    assert lib.get("MINE").body == "y+"
    assert lib.get("INT").body == "overridden"
    assert lib.get("MINE").where == f"{second / 'p'}:1"


def test_logstash_layout_loads_legacy_unless_ecs_is_named(tmp_path):
    (tmp_path / "legacy").mkdir()
    (tmp_path / "ecs-v1").mkdir()
    (tmp_path / "legacy" / "x").write_text("WHICH legacy\n", encoding="utf-8")
    (tmp_path / "ecs-v1" / "x").write_text("WHICH ecs\n", encoding="utf-8")
    assert PatternLibrary.load([tmp_path]).get("WHICH").body == "legacy"
    assert PatternLibrary.load([tmp_path / "ecs-v1"]).get("WHICH").body == "ecs"


def test_malformed_pattern_file_names_the_place(tmp_path):
    (tmp_path / "bad").write_text("GOOD a\n  BAD-NAME b\nLONELY\n", encoding="utf-8")
    with pytest.raises(CompileError) as info:
        PatternLibrary.load([tmp_path])
    assert str(info.value).startswith(f"{tmp_path / 'bad'}:2:6: bad pattern name 'BAD-NAME'")
    (tmp_path / "bad").write_text("LONELY\n", encoding="utf-8")
    with pytest.raises(CompileError, match=r":1:7: pattern LONELY has no regex"):
        PatternLibrary.load([tmp_path])


# --- expansion ---------------------------------------------------------------------


def test_expansion_captures_types_and_unnamed_references():
    lib = PatternLibrary.load()
    e = expand("%{IP:client} %{NUMBER:n:int} %{WORD}", lib)
    assert set(e.captures) == {"client", "n"}
    assert e.captures["n"].type == "int"
    m = compile_regex(e.regex).pattern.search("10.0.0.1 42 word")
    assert m["client"] == "10.0.0.1" and m["n"] == "42"


def test_duplicate_names_in_alternations_become_several_groups():
    lib = PatternLibrary.load()
    e = expand("%{HTTPD_ERRORLOG}", lib)
    assert len(e.captures["timestamp"].groups) == 2
    rx = compile_regex(e.regex).pattern
    line24 = ("[Wed Nov 25 04:32:48.202819 2026] [mpm_event:notice] [pid 4244:tid 4244] "
              "AH00489: Apache/2.4.71 (Debian) configured -- resuming normal operations")
    m = rx.search(line24)
    assert m is not None
    taking_part = [g for g in e.captures["timestamp"].groups if m[g] is not None]
    assert m[taking_part[0]] == "Wed Nov 25 04:32:48.202819 2026"


@pytest.mark.parametrize(
    ("reference", "variable", "kind"),
    [("%{INT:[a][code]?}", "a_code", None), ("%{INT:n:int?}", "n", "int"), ("%{INT:@x.y-z}", "_x_y_z", None),
     ("%{INT:[a][b] trailing}", "a_b", None)],
)
def test_what_follows_the_field_is_ignored_as_logstash_does(reference, variable, kind):
    e = expand(f"^{reference}$", PatternLibrary.load())
    assert list(e.captures) == [variable] and e.captures[variable].type == kind
    assert compile_regex(e.regex).pattern.match("42")[e.captures[variable].groups[0]] == "42"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ab %{NOPE}", "unknown pattern NOPE"),
        ("%{INTT:x}", "did you mean INT"),
        ("%{INT:x:long}", "bad type 'long'"),
        ("%{INT:x:int:more}", "bad grok reference"),
        ("%{LOOPA}", "refers to itself: LOOPA -> LOOPB -> LOOPA"),
        ("%{BROKEN}", "in pattern BROKEN (<program>:0)"),
    ],
)
def test_expansion_errors(text, message):
    lib = PatternLibrary.load()
    lib.add("LOOPA", "a%{LOOPB}")
    lib.add("LOOPB", "b%{LOOPA}?")
    lib.add("BROKEN", r"\G")
    with pytest.raises(GrokError) as info:
        expand(text, lib)
    assert message in info.value.message
    assert info.value.offset == text.index("%{")


def test_grok_in_a_program_with_typed_and_ecs_captures(tmp_path):
    prog = run(
        "counter bytes by method\n"
        "/%{WORD:[http][request][method]} %{NUMBER:[http][response][body][bytes]:int}/ {\n"
        "  bytes[$http_request_method] += $http_response_body_bytes\n}\n",
        ["GET 100", "GET 20", "PUT 3"],
    )
    assert values(prog, "bytes") == {("GET",): 120, ("PUT",): 3}


# --- Logstash's own pattern files ----------------------------------------------------


def logstash_names(layout: str) -> list[str]:
    if not LOGSTASH.exists():
        return []
    names = []
    for path in sorted((LOGSTASH / layout).iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                names.append(line.split()[0])
    return names


@needs_logstash
@pytest.mark.parametrize("layout", ["legacy", "ecs-v1"])
def test_every_logstash_pattern_compiles(layout):
    lib = PatternLibrary.load([LOGSTASH / layout])
    names = logstash_names(layout)
    assert len(names) > 300
    failures = {}
    for name in names:
        try:
            compile_regex(expand("%{" + name + "}", lib).regex)
        except (GrokError, RegexSyntaxError) as exc:
            failures[name] = exc.message
    assert failures == {}


@needs_logstash
def test_logstash_httpd_patterns_on_logstash_spec_lines():
    lib = PatternLibrary.load([LOGSTASH / "legacy"])
    combined = compile_regex(expand("^%{HTTPD_COMBINEDLOG}$", lib).regex).pattern
    m = combined.search(
        '83.149.9.216 - - [24/Feb/2015:23:13:42 +0000] "GET /presentations/logstash-monitorama-2013/'
        'images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/'
        'logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"'
    )
    assert (m["clientip"], m["verb"], m["httpversion"], m["response"], m["bytes"]) == (
        "83.149.9.216", "GET", "1.1", "200", "203023"
    )
    assert m["referrer"].startswith('"http://')
    m = combined.search('127.0.0.1 - username@example.com [24/Feb/2015:23:13:42 +0000] '
                        '"OPTIONS / HTTP/1.1" - 7908 "" "-"')
    assert m["auth"] == "username@example.com" and m["response"] is None and m["referrer"] == '""'
    httpdate = compile_regex(expand("^%{HTTPDATE}$", lib).regex).pattern
    assert not httpdate.search("23/Map/2014:15:07:20 +0000")
    assert httpdate.search("23/Mai/2014:15:07:20 +0000")
    assert compile_regex(expand("^%{IPORHOST:h}$", lib).regex).pattern.search("2001:db8::ff00:42:8329")


@needs_logstash
def test_ecs_captures_on_a_combined_line():
    lib = PatternLibrary.load([LOGSTASH / "ecs-v1"])
    e = expand("%{HTTPD_COMBINEDLOG}", lib)
    assert e.captures["http_response_status_code"].type == "int"
    m = compile_regex(e.regex).pattern.search(
        '::1 - bob [25/Nov/2026:04:32:49 +0000] "PUT /x HTTP/1.1" 405 260 "-" "curl/7.88.1"'
    )
    groups = {var: m[cap.groups[0]] for var, cap in e.captures.items()}
    assert groups["source_address"] == "::1"
    assert groups["http_request_method"] == "PUT"
    assert groups["http_response_status_code"] == "405"
    assert groups["user_name"] == "bob"


@pytest.mark.skipif(not (SHARED_DATA / "apache").exists(), reason="shared test data is not present")
def test_combined_pattern_on_real_apache_lines():
    with gzip.open(SHARED_DATA / "apache" / "access_combined.log.gz", "rt", encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(2000)][::100]
    rx = compile_regex(expand("^%{HTTPD_COMBINEDLOG}$", PatternLibrary.load()).regex).pattern
    for line in lines:
        m = rx.search(line)
        assert m is not None, line
        words = line.split(" ")
        request = line.split('"')[1].split(" ")
        assert m["clientip"] == words[0]
        assert m["auth"] == words[2]
        assert (m["verb"], m["request"]) == (request[0], request[1])
        status, size = line.split('"')[2].split()
        assert m["response"] == status and m["bytes"] == size


def test_pattern_files_are_not_re_read_per_load(monkeypatch):
    PatternLibrary.load()
    reads = []
    original = Path.read_text

    def counting_read(self, *args, **kwargs):
        reads.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting_read)
    PatternLibrary.load()
    assert reads == []


def test_unused_names_are_fine():
    assert re.compile(translate("%{x", "re2"))  # without a grok callback "%{" is literal
