"""The driver of the benchmarks that run one server program per side and drive it
with a client program: bench/pb.py, bench/smtp.py and bench/irc.py.

Each of those scripts says only what is its own (its worker, cases, how one case is
measured, the tables and the metrics its issue's goal is judged on) in a `SideBench`;
this module does the rest the same way for all: which interpreter a side runs in,
asking the worker whether a side can run, starting a pinned server and reading its
port, running a pinned client that prints JSON, the command line, the run header, the
tables and the goal lines. bench/net.py keeps the lower layer (children, pinning,
interleaved rounds, profiles). Tests: tests/bench/test_pb_smoke.py,
tests/mail/test_smtp_bench.py, tests/words/test_service_bench.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import net
from _netreport import Samples, TableSpec, betterRatio, roundRatios, sideTable
from deferred import twistedPython
from net import CLIENT_CPU, SERVER_CPU, BenchError, Child, checkChoices, pinned

HERE = Path(__file__).resolve().parent


@dataclass
class SideBench:
    """One benchmark: a worker program serving and driving each side's server.

    ``worker`` answers ``SIDE check`` with JSON (``ok``, ``reason``, ``versions``,
    ``reactor``) and ``SIDE serve ...`` by printing ``port N``; ``sides`` is its
    SIDES table (each entry has a ``framework``). ``goalMetrics`` are the
    (metric, words) pairs the issue's goal is judged on, torsion against
    ``reference``, for every case.
    """

    script: str
    issue: int
    worker: Path
    sides: dict[str, Any]
    cases: list[str]
    measures: net.Measures
    tables: list[TableSpec]
    goalMetrics: list[tuple[str, str]]
    goal: float = 2.0
    reference: str = "twisted"

    # -- sides and their programs ----------------------------------------------------

    def pythonFor(self, side: str) -> str:
        """The interpreter of ``side``: Twisted's own virtual environment, or ours."""
        if self.sides[side].framework == "twisted":
            return str(twistedPython())
        return sys.executable

    def checkSide(self, side: str) -> dict[str, Any]:
        """What the worker's ``check`` says about ``side``."""
        try:
            python = self.pythonFor(side)
        except (OSError, subprocess.CalledProcessError) as e:
            return {"ok": False, "reason": f"could not make its virtual environment: {e}"}
        return net.askWorker(python, [str(self.worker), side, "check"])

    @contextmanager
    def server(self, side: str, *args: str) -> Iterator[tuple[Child, int]]:
        """A fresh server of ``side`` (``worker SIDE serve ARGS``), pinned to the server
        CPU; yields the child and the port it printed."""
        argv = [self.pythonFor(side), str(self.worker), side, "serve", *args]
        child = Child(pinned(SERVER_CPU, argv), side)
        try:
            port = int(child.expect("port ", 60).split()[1])
            if net.onServerStart is not None:
                net.onServerStart(child.process.pid)
            yield child, port
        finally:
            child.stop()

    def runClient(self, argv: list[str], limit: float, who: str) -> dict[str, Any]:
        """Run a client program pinned to the client CPU for at most ``limit`` seconds
        and return the JSON it prints; a failure is a BenchError naming ``who``."""
        done = subprocess.run(
            pinned(CLIENT_CPU, argv),
            capture_output=True,
            text=True,
            cwd=str(HERE.parent),
            env=net.CHILD_ENV,
            timeout=limit,
        )
        if done.returncode:
            raise BenchError(f"{who} failed: {done.stderr.strip()[-500:]}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    # -- the report --------------------------------------------------------------------

    def goals(self, cases: list[str], samples: Samples) -> list[str]:
        """One line per case and goal metric: torsion's ratio to the reference, met or not."""
        lines = []
        for case in cases:
            for metric, what in self.goalMetrics:
                ratios = roundRatios(samples, case, metric, True, "torsion", self.reference)
                if not ratios:
                    continue
                better = betterRatio(samples, case, metric, True, "torsion", self.reference)
                assert better is not None
                verdict = "met" if better >= self.goal else "MISSED"
                lines.append(
                    f"- torsion vs {self.reference}, {case}, {what}: {better:.2f}x (rounds "
                    f"{min(ratios):.2f}x to {max(ratios):.2f}x; goal {self.goal}x): {verdict}"
                )
        return [f"Goals (issue {self.issue}):", *lines] if lines else []

    def report(self, cases: list[str], sides: list[str], samples: Samples) -> str:
        """The tables, then the goal lines."""
        parts = [sideTable(spec, cases, sides, samples, self.reference) for spec in self.tables]
        parts.append("\n".join(self.goals(cases, samples)))
        return "\n\n".join(p for p in parts if p)

    # -- the command line and the run ------------------------------------------------

    def parser(self, doc: str, seconds: float) -> argparse.ArgumentParser:
        """net.benchParser's options plus ``--seconds`` and ``--profile``; add your own."""
        parser = net.benchParser(doc.split("\n")[0], self.cases, self.sides, 3)
        parser.add_argument(
            "--seconds", type=float, help=f"measured seconds per case (default {seconds:g})"
        )
        parser.add_argument(
            "--profile", metavar="SIDE", help="after the tables, py-spy hot spots of SIDE's server"
        )
        return parser

    def parse(self, parser: argparse.ArgumentParser, sideOptions: tuple[str, ...] = ()) -> Any:
        """Parse the command line, refusing unknown cases and sides (also in ``--profile``
        and the options named in ``sideOptions``)."""
        options = parser.parse_args()
        checkChoices(
            parser, (("case", options.cases, self.cases), ("side", options.sides, self.sides))
        )
        for name in ("profile", *sideOptions):
            if getattr(options, name) is not None:
                checkChoices(parser, (("side", getattr(options, name), self.sides),))
        return options

    def main(
        self,
        options: argparse.Namespace,
        settings: Any,
        describe: Callable[[Any], str],
        prepare: Callable[[], object] | None = None,
    ) -> int:
        """Run the benchmark: ``settings`` (a dataclass) takes every option of the same
        name that was given; ``describe(settings)`` is what the run header adds;
        ``prepare`` runs first (building a load generator, say). The exit status."""
        given = {
            field.name: getattr(options, field.name)
            for field in dataclasses.fields(settings)
            if getattr(options, field.name, None)
        }
        settings = dataclasses.replace(settings, **given)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        if not net.PIN:
            print("warning: not pinning (needs taskset and 2 CPUs): noisier", file=sys.stderr)
        try:
            if prepare is not None:
                prepare()
            with net.snapshotTorsion():
                return self._run(options, settings, describe)
        except BenchError as e:
            print(f"{self.script}: {e}", file=sys.stderr)
            return 2

    def _run(
        self, options: argparse.Namespace, settings: Any, describe: Callable[[Any], str]
    ) -> int:
        cases = options.cases.split(",")
        wanted = options.sides.split(",")
        started, loadBefore, source = time.monotonic(), os.getloadavg()[0], net.sourceVersion()
        client = getattr(settings, "client", None)
        infos = {side: self.checkSide(side) for side in {*wanted, client} - {None}}
        if client is not None and not infos[client]["ok"]:
            raise BenchError(f"--client {client}: {infos[client]['reason']}")
        sides = [side for side in wanted if infos[side]["ok"]]
        for side in wanted:
            if not infos[side]["ok"]:
                print(f"skipping {side}: {infos[side]['reason']}", file=sys.stderr)
        samples, errors, noisy = net.runRounds(
            cases, sides, infos, settings, options.quiet_wait, self.measures
        )
        versions: dict[str, str] = {}
        for side in sides:
            versions.update(infos[side].get("versions", {}))
        header = net.runHeader(
            settings.rounds,
            source,
            versions,
            describe(settings),
            started,
            loadBefore,
            noisy,
            options,
        )
        print(header)
        print(self.report(cases, sides, samples))
        print()
        return net.endSideRun(
            options, settings, source, samples, errors, infos, wanted, cases, self.measures
        )


def byCase(measure: Callable[[str, str, Any], dict[str, float]], cases: list[str]) -> net.Measures:
    """The ``measures`` of a SideBench whose one ``measure(case, side, settings)``
    serves every case."""
    return {
        case: (lambda side, settings, info, case=case: measure(case, side, settings))
        for case in cases
    }


def window(settings: Any) -> str:
    """The run header's words for a measured window after a warm-up."""
    return f"; {settings.seconds:g} s measured after {settings.warmup:g} s of warm-up"
