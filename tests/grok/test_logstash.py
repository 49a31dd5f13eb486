"""Logstash's own patterns (logstash-patterns-core 4.3.1): every one expands and
compiles, and the httpd/core ones match what Logstash's spec says they match.

Sample lines follow the cases of spec/patterns/httpd_spec.rb and core_spec.rb,
written here; expected fields of the real Apache log are computed with str.split.
"""

from __future__ import annotations

import gzip

import pytest

from logmetrics.grok import PatternLibrary, compile_regex
from logmetrics.grok.expand import expand
from logmetrics.grok.library import parse_pattern_text
from tests.helpers import SHARED_DATA as DATA

CORE = DATA / "grok" / "logstash-patterns-core" / "patterns"
LAYOUTS = ("legacy", "ecs-v1")

if not CORE.is_dir():
    pytest.skip(f"shared test data not present: {CORE}", allow_module_level=True)


def names(layout: str) -> list[str]:
    found: dict[str, None] = {}
    for path in sorted((CORE / layout).iterdir()):
        for definition in parse_pattern_text(path.read_text(encoding="utf-8"), str(path)):
            found[definition.name] = None
    return list(found)


_LIBRARIES: dict[str, PatternLibrary] = {}


def library(layout: str) -> PatternLibrary:
    if layout not in _LIBRARIES:
        _LIBRARIES[layout] = PatternLibrary.load([CORE / layout])
    return _LIBRARIES[layout]


def grok(pattern: str, layout: str = "legacy"):
    """A matcher as Logstash's spec harness uses it: unanchored search, groupdict without Nones."""
    expansion = expand(pattern, library(layout))
    regex = compile_regex(expansion.regex).pattern

    def match(line: str) -> dict[str, str] | None:
        m = regex.search(line)
        if m is None:
            return None
        out = {}
        for var, capture in expansion.captures.items():
            value = next((m.group(g) for g in capture.groups if m.group(g) is not None), None)
            if value is not None:
                out[var] = value
        return out

    return match, expansion


@pytest.mark.parametrize(("layout", "name"), [(lay, n) for lay in LAYOUTS for n in names(lay)])
def test_every_pattern_expands_and_compiles(layout, name):
    expansion = expand(f"%{{{name}}}", library(layout))
    compiled = compile_regex(expansion.regex)
    assert compiled.groups >= len(expansion.captures)
    assert all(g in compiled.groupindex for c in expansion.captures.values() for g in c.groups)


# --- httpd access ---------------------------------------------------------------------

COMBINED = ('83.149.9.216 - - [24/Feb/2015:23:13:42 +0000] "GET /presentations/logstash-monitorama-2013/'
            'images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/'
            'logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"')


def test_combined_line_legacy_fields():
    match, expansion = grok("%{HTTPD_COMBINEDLOG}")
    assert match(COMBINED) == {
        "clientip": "83.149.9.216", "ident": "-", "auth": "-", "timestamp": "24/Feb/2015:23:13:42 +0000",
        "verb": "GET", "request": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
        "httpversion": "1.1", "response": "200", "bytes": "203023",
        "referrer": '"http://semicomplete.com/presentations/logstash-monitorama-2013/"',
        "agent": '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"',
    }
    assert expansion.captures["clientip"].pattern == "IPORHOST"
    assert match("garbage") is None


def test_combined_email_auth_empty_referrer_and_dash_status():
    match, _ = grok("%{HTTPD_COMBINEDLOG}")
    line = '10.0.0.1 - username@example.com [24/Feb/2015:23:13:42 +0000] "GET /x HTTP/1.0" 200 5 "" "-"'
    fields = match(line)
    assert fields is not None and fields["auth"] == "username@example.com" and fields["referrer"] == '""'
    line = '10.0.0.1 - - [24/Feb/2015:23:13:42 +0000] "OPTIONS * HTTP/1.1" - 7908 "-" "Apache"'
    fields = match(line)
    assert fields is not None and "response" not in fields and fields["bytes"] == "7908"


def test_ecs_captures_on_a_combined_line():
    match, expansion = grok("%{HTTPD_COMBINEDLOG}", "ecs-v1")
    fields = match(COMBINED)
    assert fields is not None
    assert fields["source_address"] == "83.149.9.216"
    assert fields["http_response_status_code"] == "200"
    assert fields["http_response_body_bytes"] == "203023"
    assert fields["http_request_method"] == "GET"
    assert "user_name" not in fields  # "-" placeholders are not captured
    status = expansion.captures["http_response_status_code"]
    assert status.type == "int" and status.grok_name == "[http][response][status_code]"
    assert expansion.captures["source_address"].grok_name == "[source][address]"


# --- httpd error logs -----------------------------------------------------------------

ERROR24 = ("[Mon Aug 31 09:30:48.958285 2015] [proxy_fcgi:error] [pid 28787:tid 140169587934976] "
           "(70008)Partial results are valid but processing is incomplete: [client 58.13.45.166:59307] "
           "AH01075: Error dispatching request to : (reading input brigade), referer: http://example.com/index.php")
ERROR22 = ("[Mon Aug 31 16:27:04 2015] [error] [client 10.17.42.3] Premature end of script headers: "
           "example.com")


def test_error_logs_both_versions_through_the_alternation():
    match, expansion = grok("%{HTTPD_ERRORLOG}")
    assert len(expansion.captures["clientip"].groups) == 2  # one per alternative
    fields = match(ERROR24)
    assert fields is not None
    assert fields["module"] == "proxy_fcgi" and fields["loglevel"] == "error"
    assert fields["pid"] == "28787" and fields["tid"] == "140169587934976"
    assert fields["proxy_errorcode"] == "70008"
    assert fields["clientip"] == "58.13.45.166" and fields["clientport"] == "59307"
    assert fields["errorcode"] == "AH01075"
    fields = match(ERROR22)
    assert fields is not None
    assert fields["loglevel"] == "error" and fields["clientip"] == "10.17.42.3"
    assert fields["message"] == "Premature end of script headers: example.com"


def test_error_log_ecs_types():
    match, expansion = grok("%{HTTPD_ERRORLOG}", "ecs-v1")
    fields = match(ERROR24)
    assert fields is not None and fields["source_port"] == "59307" and fields["process_pid"] == "28787"
    assert expansion.captures["source_port"].type == "int"


def test_error_log_ecs_field_with_text_after_it():
    """ecs-v1/httpd writes %{POSINT:[apache][error][proxy][error][code]?}: Logstash reads the field up
    to the closing brace and ignores what follows it, as httpd_spec.rb's ECS case expects."""
    assert "%{POSINT:[apache][error][proxy][error][code]?}" in (CORE / "ecs-v1" / "httpd").read_text()
    match, expansion = grok("%{HTTPD_ERRORLOG}", "ecs-v1")
    fields = match(ERROR24)
    assert fields is not None
    assert fields["apache_error_proxy_error_code"] == "70008"
    message = "Partial results are valid but processing is incomplete"
    assert fields["apache_error_proxy_error_message"] == message
    assert fields["apache_error_module"] == "proxy_fcgi" and fields["error_code"] == "AH01075"
    code = expansion.captures["apache_error_proxy_error_code"]
    assert code.grok_name == "[apache][error][proxy][error][code]"
    assert not [name for name in expansion.captures if name.endswith("_")]


# --- core ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_httpdate_month_names(layout):
    match, _ = grok("^%{HTTPDATE}$", layout)
    assert match("23/Mai/2014:15:32:31 +0200") is not None  # German
    assert match("23/March/2014:15:32:31 +0200") is not None
    assert match("23/Map/2014:15:32:31 +0200") is None


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("host", ["2001:db8::ff00:42:8329", "::1", "fe80::1%eth0", "10.1.2.3", "example.com"])
def test_iporhost_takes_ipv6(layout, host):
    match, _ = grok("^%{IPORHOST:h}$", layout)
    assert match(host) == {"h": host}


def test_unixpath_non_ascii():
    match, _ = grok("^%{UNIXPATH:p}$")
    assert match("/opt/Čierný_Peter/.中") == {"p": "/opt/Čierný_Peter/.中"}


def test_rails_hex_and_ruby_dotall():
    match, _ = grok("%{RUUID:id}")
    assert match("x " + "0123456789abcdef" * 2) == {"id": "0123456789abcdef" * 2}
    assert match("x " + "0123456789abcdeg" * 2) is None
    match, _ = grok("%{RAILS3HEAD}")
    assert match('Started GET "/x" for 1.2.3.4 at 2015-08-26 10:11:12 +0000\nProcessing') is not None


# --- a real Apache log ----------------------------------------------------------------


def _expected(line: str) -> dict[str, str]:
    """The fields of a combined line, by plain string splitting."""
    head, rest = line.split(' "', 1)
    clientip, ident, auth, _ = head.split(" ", 3)
    timestamp = head[head.index("[") + 1: head.rindex("]")]
    request_line, tail = rest.split('" ', 1)
    verb, request, protocol = request_line.split(" ")
    status, size, quoted = tail.split(" ", 2)
    referrer, agent = quoted.split('" "', 1)
    out = {"clientip": clientip, "ident": ident, "auth": auth, "timestamp": timestamp, "verb": verb,
           "request": request, "httpversion": protocol.removeprefix("HTTP/"),
           "referrer": referrer + '"', "agent": '"' + agent}
    if status != "-":
        out["response"] = status
    if size != "-":
        out["bytes"] = size
    return out


def test_twenty_real_lines():
    path = DATA / "apache" / "access_combined.log.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\n") for line, _ in zip(f, range(400), strict=False)]
    # Lines whose request and referrer hold no quote, so that splitting is exact.
    simple = [ln for ln in lines if ln.count('"') - ln.count('\\"') == 6 and '\\"' not in ln.split('" ')[0]]
    simple = [ln for ln in simple if len(ln.split(' "', 1)[1].split('" ', 1)[0].split(" ")) == 3][:20]
    assert len(simple) == 20
    match, _ = grok("%{HTTPD_COMBINEDLOG}")
    for line in simple:
        assert match(line) == _expected(line), line
