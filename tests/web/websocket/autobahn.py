"""Running the Autobahn test suite's fuzzingclient against a torsion WebSocket server.

Autobahn|Testsuite (autobahntestsuite on PyPI) is the reference conformance suite for
RFC 6455 and RFC 7692; it runs on Python 2.7 only, so .ci/run installs it with
``pip --target bench/.venv-autobahn`` and writes the interpreter's path to
bench/.venv-autobahn/interpreter. `wstestCommand` builds the command line that runs it
from there; `results` reads its report and `failures` lists the cases whose outcome is
not acceptable (anything but OK, INFORMATIONAL, NON-STRICT or UNIMPLEMENTED for the
behaviour, and OK or INFORMATIONAL for the closing behaviour).

Run the whole suite once by hand with ``python -m tests.web.websocket.autobahn``: it
serves the echo server in a child process, runs every case and prints a summary.

Used by tests/web/websocket/test_autobahn.py.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
AUTOBAHN = ROOT / "bench" / ".venv-autobahn"
ACCEPTED = {"OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED"}
ACCEPTED_CLOSE = {"OK", "INFORMATIONAL"}


def interpreter() -> str | None:
    """The Python 2.7 that has the suite, or None if it is not installed."""
    marker = AUTOBAHN / "interpreter"
    if not marker.exists():
        return None
    path = marker.read_text().strip()
    return path if Path(path).exists() else None


def wstestCommand(python2: str, spec: Path) -> list[str]:
    """The fuzzingclient command for `spec` (its own directory on the path)."""
    bootstrap = (
        "import site, sys; site.addsitedir(sys.argv[1]); "
        "sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', sys.argv[2]]; "
        "from autobahntestsuite.wstest import run; run()"
    )
    return [python2, "-c", bootstrap, str(AUTOBAHN), str(spec)]


def writeSpec(directory: Path, url: str, cases: list[str], exclude: Sequence[str] = ()) -> Path:
    spec = {
        "outdir": str(directory / "report"),
        "servers": [{"agent": "torsion", "url": url}],
        "cases": cases,
        "exclude-cases": list(exclude),
        "exclude-agent-cases": {},
    }
    path = directory / "fuzzingclient.json"
    path.write_text(json.dumps(spec))
    return path


def results(directory: Path) -> dict[str, dict[str, Any]]:
    """The report's outcome per case id."""
    index = json.loads((directory / "report" / "index.json").read_text())
    return dict(index["torsion"])


def failures(outcomes: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The cases that failed, with their outcomes."""
    return {
        case: f"{outcome['behavior']}/{outcome['behaviorClose']}"
        for case, outcome in outcomes.items()
        if outcome["behavior"] not in ACCEPTED or outcome["behaviorClose"] not in ACCEPTED_CLOSE
    }


def main() -> None:
    import tempfile

    python2 = interpreter()
    if python2 is None:
        sys.exit(f"the Autobahn test suite is not installed in {AUTOBAHN}; run .ci/run first")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.web.websocket.echoserver", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline().split()[1])
            spec = writeSpec(directory, f"ws://127.0.0.1:{port}", ["*"])
            started = time.monotonic()
            subprocess.run(wstestCommand(python2, spec), check=True, stdout=subprocess.DEVNULL)
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(10)
        outcomes = results(directory)
        counts = collections.Counter(o["behavior"] for o in outcomes.values())
        print(f"{len(outcomes)} cases in {elapsed:.0f} s: {dict(counts)}")
        bad = failures(outcomes)
        for case, outcome in sorted(bad.items()):
            print(f"  {case}: {outcome}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
