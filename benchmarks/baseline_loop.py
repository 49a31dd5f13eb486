"""The baseline: a hand-written Python loop, one stdlib ``re`` match per line, dict counts.

What a careful programmer would write by hand for the Apache combined log;
logmetrics is measured against it in the same run.
"""

import re
import sys

LINE = re.compile(
    r'^(\S+) \S+ (\S+) \[[^\]]+\] "(\S+) [^"]*" (\d{3}) (\d+|-)'
)


def main(path: str) -> None:
    requests: dict[tuple[str, str], int] = {}
    sent: dict[tuple[str, str], int] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m is None:
                continue
            key = (m[3], m[4])
            requests[key] = requests.get(key, 0) + 1
            if m[5] != "-":
                sent[key] = sent.get(key, 0) + int(m[5])
    print(sum(requests.values()), sum(sent.values()))


if __name__ == "__main__":
    main(sys.argv[1])
