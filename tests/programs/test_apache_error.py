"""The bundled apache_error program reads the AHnnnnn code after every prefix Apache 2.4's default
ErrorLogFormat writes before the message, and counts a code it cannot read.

The lines are Apache 2.4.71's own output (Debian's apache2 on loopback: a file name too long, a
proxy to a refused port and to a backend whose certificate is not trusted, core at debug level).
"""

from __future__ import annotations

import pytest

from logmetrics.resources import bundled_programs_dir
from logmetrics.runtime.program import Program
from tests.helpers import library

T = "[Sat Nov 28 11:25:13.574510 2026]"

REAL = [
    (f"{T} [core:error] [pid 27650:tid 27653] (36)File name too long: [client 127.0.0.1:33156] AH00036: "
     "access to /aaaa failed (filesystem path '/tmp/apgen/www/aaaa')", ("core", "error", "AH00036")),
    (f"{T} [proxy:error] [pid 27652:tid 27664] (111)Connection refused: AH00957: http: attempt to connect "
     "to 127.0.0.1:9 (127.0.0.1:9) failed", ("proxy", "error", "AH00957")),
    (f"{T} [proxy:error] [pid 27650:tid 27655] (20014)Internal error (specific information not available): "
     "[client 127.0.0.1:33166] AH01084: pass request body failed to 127.0.0.1:18443 (127.0.0.1)",
     ("proxy", "error", "AH01084")),
    (f"{T} [ssl:info] [pid 27650:tid 27655] [remote 127.0.0.1:18443] AH02003: SSL Proxy connect failed",
     ("ssl", "info", "AH02003")),
    (f"{T} [proxy_http:error] [pid 27652:tid 27664] [client 127.0.0.1:33162] AH01114: HTTP: failed to make "
     "connection to backend: 127.0.0.1", ("proxy_http", "error", "AH01114")),
    (f"{T} [core:debug] [pid 27971:tid 27971] log.c(1611): AH02639: Using SO_REUSEPORT: yes (1)",
     ("core", "debug", "AH02639")),
    (f"{T} [mpm_event:notice] [pid 27647:tid 27647] AH00489: Apache/2.4.71 (Debian) configured",
     ("mpm_event", "notice", "AH00489")),
    (f"{T} [mpm_prefork:notice] [pid 27647] AH00163: Apache/2.4.71 (Debian) configured",
     ("mpm_prefork", "notice", "AH00163")),
]


def run(lines: list[str]) -> Program:
    program = Program.load(bundled_programs_dir() / "apache_error.mtail", library())
    program.run(lines, "error.log")
    return program


def counts(program: Program, metric: str) -> dict:
    return dict(program.metrics[metric].values)


@pytest.mark.parametrize(("line", "expected"), REAL, ids=[e[2] for _, e in REAL])
def test_the_code_after_every_prefix(line, expected):
    module, level, code = expected
    program = run([line])
    assert counts(program, "apache_error_log_messages_total") == {(module, level): 1}
    assert counts(program, "apache_error_log_codes_total") == {(code, level): 1}
    assert counts(program, "apache_error_log_codes_unparsed_total") == {(): 0}
    assert counts(program, "apache_error_log_lines_unparsed_total") == {(): 0}


def test_a_code_that_is_not_read_is_counted_not_lost():
    """A message with an AHnnnnn code that no known layout gives (another ErrorLogFormat, say)."""
    program = run([
        f"{T} [core:error] [pid 1:tid 2] {{custom}} AH00036: access to /x failed",
        f"{T} [ssl:info] [pid 27650:tid 27656] SSL Library Error: error:0A000418:SSL routines::tlsv1 alert",
        f"{T} [:error] [pid 3] [client 127.0.0.1:5] PHP Warning:  include(): Failed opening 'x'",
    ])
    # Only the first: a message without any code is no loss.
    assert counts(program, "apache_error_log_codes_unparsed_total") == {(): 1}
    assert counts(program, "apache_error_log_codes_total") == {}
    assert counts(program, "apache_error_log_messages_total") == {
        ("core", "error"): 1, ("ssl", "info"): 1, ("unknown", "error"): 1}
