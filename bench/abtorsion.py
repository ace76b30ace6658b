"""Benchmark: this tree's torsion against another commit's, in one run, per CPU-second.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/abtorsion.py --base main                 # echo + PB cases, 5 rounds
    .venv/bin/python bench/abtorsion.py --base HEAD~3 --cases echo,small --rounds 9

A change to the reactor moves a few microseconds per round trip, less than a busy
machine moves the wall clock; this compares CPU time, interleaved, on the same load.
Variants: ``base`` (torsion/ of the commit ``--base``, taken with ``git archive``),
``tree`` (torsion/ as it is in this worktree now, copied when the run starts) and,
unless ``--no-twisted``, ``twisted`` (bench/.venv-twisted). Cases (``--cases``):

- ``echo``: a 30-byte echo round trip, one at a time on one connection, against
  bench/_echoserver.py's plainest Protocol (the fixed cost of a wakeup, a read and a
  write), driven by bench/loadgen.c; the figure is the server's CPU per round trip.
- ``small``, ``small-16``, ``list``, ``list-16``: bench/pb.py's cases (each server
  driven by a client of its own side); the figure is server plus client CPU per call.

Servers run pinned to CPU 0, clients to CPU 1, a fresh pair per measurement, rounds
interleaved with the variant order rotated; the table shows medians, the range over
the rounds, and each variant's median per-round ratio to ``base`` and to ``twisted``
(above 1: less CPU). The torsion sides use the default reactor (epoll on Linux), or
``--reactor uvloop`` for the asyncio reactor on uvloop. Method: bench/README.md (PB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import net  # noqa: E402
import pb  # noqa: E402

CASES = ["echo", "small", "small-16", "list", "list-16"]
# (PB side, echo server side) of each --reactor choice.
REACTORS = {"default": ("torsion", "torsion-epoll"), "uvloop": ("torsion-uvloop", "torsion-uvloop")}


def measure(case: str, variant: str, reactor: str, settings: pb.Settings) -> float:
    """Microseconds of CPU per round trip of ``case`` (server only for ``echo``)."""
    pbSide, echoSide = ("twisted", "twisted") if variant == "twisted" else REACTORS[reactor]
    if case == "echo":
        echo = net.Settings(conns=1, msgSize=30, seconds=settings.seconds, warmup=settings.warmup)
        return 1e6 / net.measurePingpong(echoSide, echo, {})["roundTripsPerCpuSecond"]
    return 1e6 / pb.measure(case, pbSide, settings)["perCpu"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the commit to compare with (main)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds (3)")
    parser.add_argument("--reactor", choices=sorted(REACTORS), default="default")
    parser.add_argument("--no-twisted", action="store_true", help="leave Twisted out")
    options = parser.parse_args()
    cases = options.cases.split(",")
    net.checkChoices(parser, [("--cases", options.cases, CASES)])
    settings = pb.Settings(rounds=options.rounds, seconds=options.seconds)
    net.buildLoadgen()
    with tempfile.TemporaryDirectory(prefix="torsion-ab-") as work:
        trees = {"base": Path(work) / "base", "tree": Path(work) / "tree"}
        archive = subprocess.run(
            ["git", "archive", options.base, "torsion"],
            cwd=str(HERE.parent),
            capture_output=True,
            check=True,
        )
        trees["base"].mkdir()
        subprocess.run(["tar", "-x", "-C", str(trees["base"])], input=archive.stdout, check=True)
        shutil.copytree(
            HERE.parent / "torsion",
            trees["tree"] / "torsion",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        variants = ["base", "tree"] + ([] if options.no_twisted else ["twisted"])
        saved = net.CHILD_ENV.get("PYTHONPATH")
        results: dict[tuple[str, str], list[float]] = {}
        for round in range(options.rounds):
            order = variants[round % len(variants) :] + variants[: round % len(variants)]
            for case in cases:
                for variant in order:
                    path = trees.get(variant)
                    net.CHILD_ENV["PYTHONPATH"] = os.pathsep.join(
                        filter(None, [str(path) if path else None, saved])
                    )
                    cost = measure(case, variant, options.reactor, settings)
                    results.setdefault((case, variant), []).append(cost)
                    print(f"round {round + 1} {case} {variant}: {cost:.1f} us", flush=True)
    print(
        f"\nCPU microseconds per round trip, medians of {options.rounds} rounds, base = "
        f"{options.base}, reactor {options.reactor}; load average now {os.getloadavg()[0]:.1f}"
    )
    print("\n| case | variant | us | range | vs base | vs twisted |\n|---|---|---:|---:|---:|---:|")
    for case in cases:
        for variant in variants:
            costs = results[(case, variant)]
            ratios = []
            for reference in ("base", "twisted"):
                theirs = results.get((case, reference))
                ratios.append(
                    f"{statistics.median(t / o for t, o in zip(theirs, costs, strict=True)):.2f}x"
                    if theirs
                    else "-"
                )
            print(
                f"| {case} | {variant} | {statistics.median(costs):,.1f} | "
                f"{min(costs):,.1f}-{max(costs):,.1f} | {ratios[0]} | {ratios[1]} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
