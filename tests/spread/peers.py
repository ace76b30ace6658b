"""Real peers for the PB tests: Twisted's interpreter, and child processes run with bounded waits.

``twistedPython()`` finds an interpreter that has Twisted installed (never a torsion
dependency; .ci/run makes bench/.venv-twisted), and ``requireTwisted()`` skips a test,
saying why, where there is none. ``PeerProcess`` runs one child (a torsion or Twisted
PB program, see tests/spread/_peer.py) whose output lines are read by a thread, so
that every wait for a line is bounded, and which is always killed when the test ends.
Used by tests/spread/test_twoprocess.py, test_twistedinterop.py and test_hostile.py.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TWISTED_VENV_PYTHON = ROOT / "bench" / ".venv-twisted" / "bin" / "python"
PEER = Path(__file__).resolve().with_name("_peer.py")

NO_TWISTED = (
    "no Python with Twisted found: set TORSION_TWISTED_PYTHON to one, or make "
    "bench/.venv-twisted (python3 -m venv bench/.venv-twisted && "
    "bench/.venv-twisted/bin/pip install twisted; .ci/run does this)"
)


def _importsTwisted(python: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import twisted.spread.pb"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def twistedPython() -> str | None:
    """An interpreter that imports Twisted, or None.

    ``$TORSION_TWISTED_PYTHON`` if it is set (it must import Twisted, or the answer is
    None: a wrong setting should show as a skip with the reason, not as failures),
    else bench/.venv-twisted's interpreter if it imports Twisted.
    """
    chosen = os.environ.get("TORSION_TWISTED_PYTHON")
    if chosen:
        return chosen if _importsTwisted(chosen) else None
    if TWISTED_VENV_PYTHON.exists() and _importsTwisted(str(TWISTED_VENV_PYTHON)):
        return str(TWISTED_VENV_PYTHON)
    return None


def requireTwisted() -> str:
    """Twisted's interpreter; skips the calling test, saying why, if there is none."""
    python = twistedPython()
    if python is None:
        chosen = os.environ.get("TORSION_TWISTED_PYTHON")
        if chosen:
            pytest.skip(f"TORSION_TWISTED_PYTHON={chosen} does not import twisted.spread.pb")
        pytest.skip(NO_TWISTED)
    return python


class PeerError(AssertionError):
    """The peer process said something unexpected, said nothing in time, or exited."""


class PeerProcess:
    """A child process speaking a line protocol on its standard input and output.

    Its standard error goes to a file that the failure messages quote, so a traceback
    in the child shows in the test's report. Given ``spin`` (say, ``lambda:
    reactor.iterate(0.01)``), every wait for a line calls it until the line comes, so
    that a reactor in the test process keeps running meanwhile.
    """

    def __init__(
        self,
        argv: list[str],
        name: str,
        cwd: Path | None = None,
        path: Sequence[str] = (),
        spin: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.spin = spin
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # The child imports torsion from this checkout (Twisted's venv has no torsion),
        # and whatever else ``path`` names.
        searched = [*path, str(ROOT), env.get("PYTHONPATH")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, searched))
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            cwd=str(cwd or ROOT),
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        self.lines.put(None)

    def stderr(self) -> str:
        """What the child wrote to its standard error so far."""
        self.errors.flush()
        self.errors.seek(0)
        text = self.errors.read()
        self.errors.seek(0, os.SEEK_END)
        return text

    def _nextLine(self, timeout: float) -> str | None:
        if self.spin is None:
            return self.lines.get(timeout=timeout)
        # Keep this process's reactor turning while waiting: the child may be waiting
        # for it (a server in the test process answering the child's call).
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.lines.get_nowait()
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise
                self.spin()

    def readLine(self, timeout: float = 20) -> str:
        """The next line the child prints (bounded by ``timeout`` seconds)."""
        try:
            line = self._nextLine(timeout)
        except queue.Empty:
            raise PeerError(
                f"{self.name} said nothing for {timeout:g} s; its stderr:\n{self.stderr()}"
            ) from None
        if line is None:
            self.lines.put(None)
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            raise PeerError(f"{self.name} exited (status {code}); its stderr:\n{self.stderr()}")
        return line

    def expect(self, prefix: str, timeout: float = 20) -> str:
        """The next line, which must start with ``prefix``; the rest of it is returned."""
        line = self.readLine(timeout)
        if not line.startswith(prefix):
            raise PeerError(
                f"{self.name} said {line!r}, expected {prefix!r}...; its stderr:\n{self.stderr()}"
            )
        return line[len(prefix) :].strip()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def ask(self, command: str, prefix: str = "ok", timeout: float = 20) -> str:
        """Send one command line, return the answer after ``prefix``."""
        self.send(command)
        return self.expect(prefix, timeout)

    def kill(self) -> None:
        """End the child now (SIGKILL), as a peer that vanishes mid-conversation does."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Close its input (a well-behaved child exits), then kill it if it lingers."""
        try:
            if self.process.stdin is not None and not self.process.stdin.closed:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.errors.close()


class JSONPeer(PeerProcess):
    """A child speaking tests/spread/_peer.py's JSON lines: requests, answers, events.

    Lines that answer no request in progress (a cache update, a notice to the mind,
    an answer that came late) are kept in ``events`` in the order they came.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[dict[str, Any]] = []
        self._last = 0

    def message(self, timeout: float = 20) -> dict[str, Any]:
        line = self.readLine(timeout)
        try:
            decoded: dict[str, Any] = json.loads(line)
        except ValueError:
            raise PeerError(
                f"{self.name} said {line!r}, not JSON; stderr:\n{self.stderr()}"
            ) from None
        return decoded

    def start(self, what: str, *args: Any) -> int:
        """Send a request without waiting; its number, for ``answer``."""
        self._last += 1
        self.send(json.dumps([what, self._last, *args]))
        return self._last

    def answer(self, number: int, timeout: float = 20) -> dict[str, Any]:
        """The answer to request ``number`` (events that come first are kept)."""
        for event in self.events:
            if event.get("id") == number:
                self.events.remove(event)
                return event
        while True:
            got = self.message(timeout)
            if got.get("id") == number:
                return got
            self.events.append(got)

    def request(self, what: str, *args: Any, timeout: float = 20) -> dict[str, Any]:
        return self.answer(self.start(what, *args), timeout)

    def result(self, what: str, *args: Any, timeout: float = 20) -> Any:
        """The result of a request that must succeed."""
        got = self.request(what, *args, timeout=timeout)
        if "error" in got:
            raise PeerError(f"{self.name}: {what} {args!r} failed: {got}\n{self.stderr()}")
        return got["result"]

    def waitEvent(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        """The first event (kept or to come) for which ``matches`` is true; it is taken."""
        for event in self.events:
            if matches(event):
                self.events.remove(event)
                return event
        while True:
            got = self.message(timeout)
            if matches(got):
                return got
            self.events.append(got)


def peerArgv(python: str, framework: str, *args: str) -> list[str]:
    """The command line of tests/spread/_peer.py under ``python`` for ``framework``."""
    return [python, str(PEER), framework, *args]


def torsionPython() -> str:
    return sys.executable
