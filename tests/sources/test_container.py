"""Container logs: CRI and Docker json-file unwrapped, cut lines joined, pod facts from the path."""

from __future__ import annotations

import json

from logmetrics.sources.unwrap.container import ContainerLog, path_envelope


def cri(stream: str, tag: str, text: str) -> str:
    return f"2026-11-28T10:00:00.123456789Z {stream} {tag} {text}"


def test_cri_lines_and_partials_joined_per_stream():
    log = ContainerLog("cri", 1 << 20)
    lines = [cri("stdout", "F", "whole"), cri("stdout", "P", "first "), cri("stderr", "F", "error line"),
             cri("stdout", "P", "second "), cri("stdout", "F", "end"), cri("stdout", "F", "")]
    assert log.unwrap(lines) == ["whole", "error line", "first second end", ""]
    assert log.stats.malformed == 0


def test_streams_kept_apart_in_order_with_parts_joined():
    log = ContainerLog("cri", 1 << 20)
    lines = [cri("stdout", "P", "GET "), cri("stderr", "F", "error one"), cri("stdout", "F", "/a"),
             cri("stderr", "P", "error "), cri("stdout", "F", "GET /b"), cri("stderr", "F", "two")]
    assert log.unwrap_streams(lines) == {"stdout": ["GET /a", "GET /b"], "stderr": ["error one", "error two"]}
    assert log.unwrap_streams([cri("stderr", "P", "cut")]) == {}  # waits for its end


def test_cri_partial_waits_across_batches_and_garbage_is_counted():
    log = ContainerLog("cri", 1 << 20)
    assert log.unwrap([cri("stdout", "P", "a"), "not cri at all"]) == []
    assert log.unwrap([cri("stdout", "F", "b")]) == ["ab"]
    assert log.stats.malformed == 1


def test_cri_joined_line_cut_at_the_limit():
    log = ContainerLog("cri", 10)
    assert log.unwrap([cri("stdout", "P", "0123456"), cri("stdout", "P", "789abc"),
                       cri("stdout", "F", "def")]) == ["0123456789"]
    assert log.stats.overlong == 1


def test_docker_json_file_with_a_long_line_split():
    log = ContainerLog("docker", 1 << 20)
    entries = [{"log": "GET / 200\n", "stream": "stdout", "time": "t"},
               {"log": "part one ", "stream": "stdout", "time": "t"},
               {"log": "part two\r\n", "stream": "stdout", "time": "t"},
               {"log": 'quote " and \\ kept\n', "stream": "stderr", "time": "t"}]
    lines = [json.dumps(e) for e in entries] + ["{broken", '{"no_log": 1}']
    assert log.unwrap(lines) == ["GET / 200", "part one part two", 'quote " and \\ kept']
    assert log.stats.malformed == 2


def test_path_facts_as_promtail_takes_them():
    pods = path_envelope("/var/log/pods/shop_web-7d9f8-abcde_0f1e2d3c-aaaa/nginx/0.log")
    assert (pods.namespace, pods.pod, pods.container) == ("shop", "web-7d9f8-abcde", "nginx")
    linked = path_envelope("/var/log/containers/web-7d9f8-abcde_shop_nginx-" + "a" * 64 + ".log")
    assert (linked.namespace, linked.pod, linked.container) == ("shop", "web-7d9f8-abcde", "nginx")
    assert path_envelope("/var/log/nginx/access.log").pod == ""
