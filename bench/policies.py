"""What a policy wrapper costs per chunk of data: torsion.protocols.policies against Twisted's.

Each case connects an echo protocol, bare or wrapped (WrappingFactory,
ThrottlingFactory with a connection limit, TimeoutFactory), to an in-memory transport
that discards what is written, and times ``dataReceived`` of 64-byte chunks, each
echoed back through the wrapper's ``write``: the per-byte path of a wrapped
connection, without the noise of sockets. Twisted runs in bench/.venv-twisted (made on
first use, as bench/deferred.py does), each side in its own worker process; the
rounds are interleaved and the medians compared.

    .venv/bin/python bench/policies.py            # 5 rounds
    .venv/bin/python bench/policies.py --quick    # a smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ["bare", "WrappingFactory", "ThrottlingFactory", "TimeoutFactory"]


def worker(impl: str, target: float) -> dict[str, float]:
    """Time each case in this process; return chunks per second."""
    if impl == "torsion":
        from torsion.internet.protocol import Factory, Protocol
        from torsion.internet.task import Clock
        from torsion.protocols import policies
    else:
        from twisted.internet.protocol import Factory, Protocol  # type: ignore[no-redef]
        from twisted.internet.task import Clock  # type: ignore[no-redef]
        from twisted.protocols import policies  # type: ignore[no-redef]

    class Echo(Protocol):  # type: ignore[misc, valid-type]
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class Sink:
        disconnecting = False

        def write(self, data: bytes) -> None:
            pass

        def writeSequence(self, data: object) -> None:
            pass

        def getPeer(self) -> None:
            return None

        def getHost(self) -> None:
            return None

    clock = Clock()

    class ClockedTimeout(policies.TimeoutFactory):  # type: ignore[misc, name-defined]
        def callLater(self, period: float, func: object) -> object:
            return clock.callLater(period, func)

    def make(case: str) -> object:
        factory = Factory.forProtocol(Echo)
        if case == "bare":
            protocol = factory.buildProtocol(None)
        elif case == "WrappingFactory":
            protocol = policies.WrappingFactory(factory).buildProtocol(None)
        elif case == "ThrottlingFactory":
            protocol = policies.ThrottlingFactory(factory, maxConnectionCount=100).buildProtocol(
                None
            )
        else:
            protocol = ClockedTimeout(factory, 60).buildProtocol(None)
        protocol.makeConnection(Sink())
        return protocol

    results = {}
    chunk = b"x" * 64
    for case in CASES:
        received = make(case).dataReceived  # type: ignore[attr-defined]
        count = 0
        batch = 10_000
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < target:
            for _ in range(batch):
                received(chunk)
            count += batch
        results[case] = count / elapsed
    return results


def twistedPython() -> Path:
    """bench/deferred.py's Twisted venv (it makes it on first use)."""
    sys.path.insert(0, str(HERE))
    import deferred

    return Path(deferred.twistedPython())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", choices=["torsion", "twisted"])
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.target)))
        return
    if args.quick:
        args.rounds, args.target = 1, 0.05
    pythons = {"torsion": Path(sys.executable), "twisted": twistedPython()}
    samples: dict[str, dict[str, list[float]]] = {side: {c: [] for c in CASES} for side in pythons}
    for _ in range(args.rounds):
        for side, python in pythons.items():
            done = subprocess.run(
                [str(python), __file__, "--worker", side, "--target", str(args.target)],
                capture_output=True,
                text=True,
                check=True,
                cwd=HERE.parent,
            )
            for case, rate in json.loads(done.stdout).items():
                samples[side][case].append(rate)
    print("| case | torsion chunks/s | Twisted chunks/s | torsion / Twisted |\n|---|---|---|---|")
    for case in CASES:
        ours = statistics.median(samples["torsion"][case])
        theirs = statistics.median(samples["twisted"][case])
        print(f"| {case} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
