"""WebSocket benchmarks: torsion's frame codec against wsproto, and echo servers.

Two parts, run in one go (bench/README.md has the method):

- codec-*: the sans-IO codecs in this process, torsion.web._wsframes against wsproto
  (the library the design notes name as the alternative). One operation is a whole
  echo round trip through both ends: the client encodes (and masks) a message, the
  server parses it and encodes the echo, the client parses that. codec-small is a
  32-byte text message, codec-large a 1 MiB binary one, codec-deflate a 16 KiB text
  message with permessage-deflate on both sides. Times are medians per round trip.
- pingpong and bulk: echo servers, each pinned to CPU 0, driven by bench/wsload.c (a
  C epoll client, pinned to CPU 1): pingpong is 50 connections each sending a 64-byte
  binary message and waiting for its echo (round trips per second); bulk is one
  connection echoing 1 MiB messages (MB/s, both directions counted). Sides: torsion on
  its default reactor, torsion's asyncio reactor on uvloop, the `websockets` library on
  asyncio and on uvloop, and autobahn-python on Twisted (bench/_wsserver.py; Twisted
  and autobahn live in bench/.venv-twisted, made on first use, never in torsion's venv).

Ratios compare with torsion: above 1 means torsion is faster.

    .venv/bin/python bench/websocket.py [--quick] [--rounds N] [--cases ...] [--sides ...]

wsproto and websockets are benchmark peers only (pip install wsproto websockets into the
venv); torsion depends on neither.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

CODEC_CASES = ["codec-small", "codec-large", "codec-deflate"]
SERVER_CASES = ["pingpong", "bulk"]
CODEC_SIDES = ["torsion", "wsproto"]
SERVER_SIDES = ["torsion", "torsion-uvloop", "websockets", "websockets-uvloop", "twisted-autobahn"]
TWISTED_VENV = HERE / ".venv-twisted"
SERVER_CPU, CLIENT_CPU = "0", "1"
PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
WSLOAD = HERE / ".build" / "wsload"


class BenchError(Exception):
    """A measurement failed; the message says which side and case."""


# -- the codecs ------------------------------------------------------------------------


def torsionRoundTrip(deflate: bool) -> Callable[[str | bytes], None]:
    from torsion.web._wsdeflate import PerMessageDeflate
    from torsion.web._wsframes import FrameCodec

    agreed = PerMessageDeflate() if deflate else None
    client = FrameCodec(client=True, maxMessageSize=1 << 26, deflate=agreed)
    server = FrameCodec(client=False, maxMessageSize=1 << 26, deflate=agreed)

    def roundTrip(message: str | bytes) -> None:
        (event,) = server.receive(client.encodeMessage(message))
        (back,) = client.receive(server.encodeMessage(event.data))  # type: ignore[union-attr]
        assert len(back.data) == len(message)  # type: ignore[union-attr]

    return roundTrip


def wsprotoRoundTrip(deflate: bool) -> Callable[[str | bytes], None]:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, Message, Request, TextMessage
    from wsproto.extensions import PerMessageDeflate

    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    extensions = [PerMessageDeflate()] if deflate else []
    server.receive_data(client.send(Request(host="localhost", target="/", extensions=extensions)))
    for event in server.events():
        assert isinstance(event, Request)
        accept = [PerMessageDeflate()] if deflate else []
        client.receive_data(server.send(AcceptConnection(extensions=accept)))
    assert any(isinstance(e, AcceptConnection) for e in client.events())
    messageTypes = (TextMessage, BytesMessage)

    def roundTrip(message: str | bytes) -> None:
        server.receive_data(client.send(Message(data=message)))
        for event in server.events():
            assert isinstance(event, messageTypes)
            client.receive_data(server.send(Message(data=event.data)))
        got = 0
        for event in client.events():
            got += len(event.data)  # type: ignore[attr-defined]
        assert got == len(message)

    return roundTrip


def codecMessage(case: str) -> tuple[str | bytes, bool]:
    if case == "codec-small":
        return "x" * 32, False
    if case == "codec-large":
        return os.urandom(1 << 20), False
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    text = " ".join(words[(i * 7 + i // 3) % 8] for i in range(3000))[: 16 * 1024]
    return text, True


def measureCodec(case: str, side: str, target: float) -> float:
    """Seconds per echo round trip (median comes from the rounds)."""
    message, deflate = codecMessage(case)
    roundTrip = (torsionRoundTrip if side == "torsion" else wsprotoRoundTrip)(deflate)
    roundTrip(message)
    count, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(count):
            roundTrip(message)
        elapsed = time.perf_counter() - start
        if elapsed >= target:
            return elapsed / count
        count = max(count * 2, int(count * target / max(elapsed, 1e-6)))


# -- the servers -----------------------------------------------------------------------


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if PIN else argv


def buildWsload() -> None:
    source = HERE / "wsload.c"
    if WSLOAD.exists() and WSLOAD.stat().st_mtime >= source.stat().st_mtime:
        return
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BenchError("no C compiler (cc) to build bench/wsload.c; install gcc")
    WSLOAD.parent.mkdir(exist_ok=True)
    subprocess.run([compiler, "-O2", "-o", str(WSLOAD), str(source)], check=True)


def pythonFor(side: str) -> str:
    """Twisted's side runs in bench/.venv-twisted (made, with autobahn, on first use)."""
    if side != "twisted-autobahn":
        return sys.executable
    python = TWISTED_VENV / "bin" / "python"
    probe = [str(python), "-c", "import twisted, autobahn"]
    if not (python.exists() and subprocess.run(probe, capture_output=True).returncode == 0):
        print(f"setting up {TWISTED_VENV} with twisted and autobahn ...", file=sys.stderr)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(TWISTED_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "twisted", "autobahn"])
    return str(python)


def checkSide(side: str) -> dict[str, Any]:
    result = subprocess.run(
        [pythonFor(side), str(HERE / "_wsserver.py"), side, "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    try:
        info: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        info = {"ok": False, "reason": result.stderr.strip()[-300:]}
    return info


def measureServer(case: str, side: str, seconds: float, quick: bool) -> float:
    server = subprocess.Popen(
        pinned(SERVER_CPU, [pythonFor(side), str(HERE / "_wsserver.py"), side]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("port "):
            raise BenchError(f"{side}: the server did not start ({line!r})")
        port = line.split()[1]
        if case == "pingpong":
            args = ["pingpong", "127.0.0.1", port, "50", "64", str(seconds), "0.5"]
        else:
            args = ["bulk", "127.0.0.1", port, str(1 << 20), str(seconds)]
        load = subprocess.run(
            pinned(CLIENT_CPU, [str(WSLOAD), *args]),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        result = [line for line in load.stdout.splitlines() if line.startswith("result ")]
        if load.returncode != 0 or not result:
            raise BenchError(f"{case} on {side}: wsload failed: {load.stderr.strip()[-300:]}")
        values = {k: float(v) for k, v in (item.split("=") for item in result[0].split()[1:])}
        return values["rate" if case == "pingpong" else "mbps"]
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- main ------------------------------------------------------------------------------


def parseArguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, short: a smoke test")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per server run")
    parser.add_argument("--cases", default=",".join(CODEC_CASES + SERVER_CASES))
    parser.add_argument("--sides", default=",".join(SERVER_SIDES), help="server sides")
    parser.add_argument("--json", type=Path, help="also write the medians to this file")
    options = parser.parse_args()
    for name, given, known in (
        ("case", options.cases, CODEC_CASES + SERVER_CASES),
        ("side", options.sides, SERVER_SIDES),
    ):
        unknown = [item for item in given.split(",") if item not in known]
        if unknown:
            parser.error(f"unknown {name} {', '.join(unknown)}; choose from {', '.join(known)}")
    if options.quick:
        options.rounds, options.seconds = 1, 0.5
    return options


def run(options: argparse.Namespace) -> int:
    cases = options.cases.split(",")
    sides = options.sides.split(",")
    codecCases = [c for c in cases if c in CODEC_CASES]
    serverCases = [c for c in cases if c in SERVER_CASES]
    samples: dict[tuple[str, str], list[float]] = {}
    errors: list[str] = []
    skipped: dict[str, str] = {}
    if codecCases:
        try:
            import wsproto  # noqa: F401
        except ImportError:
            skipped["wsproto"] = "wsproto is not installed (pip install wsproto)"
    codecSides = [s for s in CODEC_SIDES if s not in skipped]
    liveSides = []
    if serverCases:
        buildWsload()
        for side in sides:
            info = checkSide(side)
            if info.get("ok"):
                liveSides.append(side)
            else:
                skipped[side] = str(info.get("reason"))
    target = 0.05 if options.quick else 0.25
    started = time.monotonic()
    for _ in range(options.rounds):
        for case in codecCases:
            for side in codecSides:
                samples.setdefault((case, side), []).append(measureCodec(case, side, target))
        for case in serverCases:
            for side in liveSides:
                try:
                    value = measureServer(case, side, options.seconds, options.quick)
                except BenchError as failed:
                    errors.append(str(failed))
                    continue
                samples.setdefault((case, side), []).append(value)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    print(
        f"websocket bench: {options.rounds} round(s), {time.monotonic() - started:.0f} s, "
        f"Python {sys.version.split()[0]}, pinned={PIN}"
    )
    print(f"{'case':<14} {'side':<18} {'median':>14}  vs torsion")
    for case in codecCases + serverCases:
        base = medians.get((case, "torsion"))
        for side in codecSides if case in CODEC_CASES else liveSides:
            value = medians.get((case, side))
            if value is None:
                continue
            if case in CODEC_CASES:
                shown = f"{value * 1e6:10.1f} us/rt"
                ratio = value / base if base else float("nan")
            else:
                unit = "rt/s" if case == "pingpong" else "MB/s"
                shown = f"{value:9.1f} {unit}"
                ratio = base / value if base else float("nan")
            print(f"{case:<14} {side:<18} {shown:>14}  {ratio:5.2f}x")
    for side, reason in skipped.items():
        print(f"skipped {side}: {reason}")
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "medians": [
                        {"case": c, "side": s, "median": m} for (c, s), m in sorted(medians.items())
                    ],
                    "samples": [{"case": c, "side": s, "runs": r} for (c, s), r in samples.items()],
                    "errors": errors,
                    "skipped": skipped,
                },
                indent=1,
            )
        )
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def main() -> int:
    options = parseArguments()
    if not PIN:
        print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
    try:
        return run(options)
    except BenchError as failed:
        print(f"websocket.py: {failed}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
