"""Decide the test run's exit status from pytest's junit report and its exit status.

pytest's status wins when it is one of its own (0 passed, 1 failed, 2 interrupted,
3 internal error, 4 usage error, 5 no tests). Any other status means the interpreter died
after pytest ended (sdk-python #300): then the report decides. No test run is a failure.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(report: Path, status: int) -> int:
    if status == 5:
        print("verdict: pytest collected no tests", file=sys.stderr)
        return 1
    if status in (0, 1, 2, 3, 4):
        return status
    if not report.exists():
        print(f"verdict: pytest exited {status} and wrote no report", file=sys.stderr)
        return status or 1
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    print(f"verdict: pytest exited {status}; report says {tests} tests, {bad} failed")
    return 0 if tests > 0 and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
