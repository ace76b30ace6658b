"""Benchmark: user-space instructions per PB round trip, torsion against Twisted, under valgrind.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/pbcount.py                      # 500 and 2,500 calls per side
    .venv/bin/python bench/pbcount.py --calls 200,1200 --sides torsion

A sequential small PB call (bench/pb.py's ``small``: ``root.callRemote("echo", 1)``,
each answer starting the next call) is measured in instructions instead of seconds, so
that a busy machine does not move the figure: a server and a client, two processes
over loopback TCP, each run under ``valgrind --tool=callgrind``, once for each of the
two call counts; the instructions per round trip are the difference between the runs
(start-up and connection set-up cancel out) divided by the difference in calls, for
the server and the client. Valgrind counts what runs in the process (the interpreter,
the framework, PB, libc), not the kernel's share (the system calls and the wakeups,
which cost torsion and Twisted alike). Twisted runs from bench/.venv-twisted
(bench/pb.py makes it). Method and figures: bench/README.md (PB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIDES = {"torsion": sys.executable, "twisted": str(HERE / ".venv-twisted" / "bin" / "python")}


def serve(framework: str) -> None:
    """Serve a PB root whose ``echo`` returns its argument; stop when told to."""
    reactor = __import__(f"{framework}.internet.reactor", fromlist=["reactor"])
    pb = __import__(f"{framework}.spread.pb", fromlist=["pb"])

    class Root(pb.Root):  # type: ignore[misc,name-defined]
        def remote_echo(self, value: Any) -> Any:
            return value

        def remote_stop(self) -> None:
            reactor.callLater(0.05, reactor.stop)

    port = reactor.listenTCP(0, pb.PBServerFactory(Root()), interface="127.0.0.1")
    print(f"port {port.getHost().port}", flush=True)
    reactor.run()


def client(framework: str, port: int, calls: int) -> None:
    """Make ``calls`` sequential ``echo(1)`` calls, checking each answer, then stop the server."""
    reactor = __import__(f"{framework}.internet.reactor", fromlist=["reactor"])
    pb = __import__(f"{framework}.spread.pb", fromlist=["pb"])
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    left = [calls]
    failed: list[Any] = []

    def answered(answer: Any, root: Any) -> Any:
        if answer != 1:
            raise RuntimeError(f"echo(1) answered {answer!r}")
        left[0] -= 1
        if left[0] == 0:
            return root.callRemote("stop").addBoth(lambda _: reactor.stop())
        return root.callRemote("echo", 1).addCallback(answered, root)

    def start(root: Any) -> Any:
        return root.callRemote("echo", 1).addCallback(answered, root)

    def stop(failure: Any) -> None:
        failed.append(failure)
        reactor.stop()

    factory.getRootObject().addCallback(start).addErrback(stop)
    reactor.run()
    if failed:
        raise SystemExit(f"the calls failed: {failed[0]}")


def counted(command: list[str], work: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    out = work / f"{name}.callgrind"
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return process, out


def instructions(process: subprocess.Popen[str], timeout: float) -> int:
    _, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise SystemExit(f"a counted process failed:\n{err[-2000:]}")
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{err[-2000:]}")
    return int(found.group(1))


def measure(side: str, calls: int, work: Path, timeout: float) -> tuple[int, int]:
    """Instructions of the server and of the client for one run of ``calls`` calls."""
    python = SIDES[side]
    me = str(Path(__file__).resolve())
    server, _ = counted([python, me, "serve", side], work, f"{side}-{calls}-server")
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("port "):
        server.kill()
        raise SystemExit(f"the {side} server did not start: {line!r} {server.communicate()[1]}")
    port = int(line.split()[1])
    clientProcess, _ = counted(
        [python, me, "client", side, str(port), str(calls)], work, f"{side}-{calls}-client"
    )
    clientCount = instructions(clientProcess, timeout)
    serverCount = instructions(server, timeout)
    return serverCount, clientCount


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "client"):
        sys.path.insert(0, str(HERE.parent))
        if sys.argv[1] == "serve":
            serve(sys.argv[2])
        else:
            client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="500,2500", help="the two call counts (500,2500)")
    parser.add_argument("--sides", default="torsion,twisted", help="torsion,twisted")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (600)")
    parser.add_argument("--json", help="also write the figures to this file")
    options = parser.parse_args()
    low, high = (int(n) for n in options.calls.split(","))
    if not 0 < low < high:
        parser.error("--calls takes two counts, the first smaller: e.g. 500,2500")
    sides = options.sides.split(",")
    for side in sides:
        if side not in SIDES:
            parser.error(f"unknown side {side!r}: {', '.join(SIDES)}")
        if not Path(SIDES[side]).exists():
            parser.error(f"{SIDES[side]} is missing (bench/pb.py makes bench/.venv-twisted)")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="torsion-pbcount-") as tmp:
        work = Path(tmp)
        for side in sides:
            lowServer, lowClient = measure(side, low, work, options.timeout)
            highServer, highClient = measure(side, high, work, options.timeout)
            server = (highServer - lowServer) / (high - low)
            client_ = (highClient - lowClient) / (high - low)
            results[side] = {"server": server, "client": client_, "total": server + client_}
    print(f"Instructions per sequential small PB round trip ({low} and {high} calls, user space)")
    print()
    print("| side | server | client | both | vs Twisted |")
    print("|---|---:|---:|---:|---:|")
    twisted = results.get("twisted", {}).get("total")
    for side, figures in results.items():
        ratio = f"{twisted / figures['total']:.2f}x" if twisted else "-"
        print(
            f"| {side} | {figures['server']:,.0f} | {figures['client']:,.0f} | "
            f"{figures['total']:,.0f} | {ratio} |"
        )
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
