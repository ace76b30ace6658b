"""The tables of bench/net.py: medians to Markdown, ratios, goals, py-spy hot spots.

Kept apart from the driver so that the driver is about running things and this module
is about presenting what they measured; it is pure functions of the medians.
Tests: tests/bench/test_net_smoke.py (through bench/net.py --quick).
"""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from pathlib import Path

# What each (case, side) measured: one dict of metrics per round, with its "round".
Samples = dict[tuple[str, str], list[dict[str, float]]]
Table = dict[tuple[str, str], dict[str, float]]


def medians(samples: Samples) -> Table:
    """The median of every metric of every (case, side) over the rounds."""
    return {
        key: {
            name: statistics.median(run[name] for run in runs)
            for name in runs[0]
            if name != "round"
        }
        for key, runs in samples.items()
    }


def number(value: float | None, digits: int = 0) -> str:
    """``value`` with thousands separators, or n/a."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


# Each column of the main table: (title, case, metric, higher is better, digits, scale).
COLUMNS = [
    ("echo round trips/s", "pingpong", "rate", True, 0, 1.0),
    ("echo round trips per server CPU-s", "pingpong", "roundTripsPerCpuSecond", True, 0, 1.0),
    ("bulk MB per server CPU-s", "bulk", "mbPerCpuSecond", True, 0, 1.0),
    ("idle KiB per connection", "idle", "bytesPerConnection", False, 2, 1 / 1024),
    ("timers calls per CPU-s", "timers", "cpuRate", True, 0, 1.0),
]
# The details table: (title, case, metric, digits, scale, unit).
DETAILS = [
    ("echo server CPU", "pingpong", "serverLoad", 0, 100.0, "%"),
    ("echo loadgen CPU", "pingpong", "clientLoad", 0, 100.0, "%"),
    ("bulk MB/s", "bulk", "mbPerSecond", 0, 1.0, ""),
    ("bulk server CPU", "bulk", "serverLoad", 0, 100.0, "%"),
    ("bulk loadgen CPU", "bulk", "clientLoad", 0, 100.0, "%"),
    ("idle connections answered", "idle", "answered", 0, 1.0, ""),
    ("timers calls/s", "timers", "rate", 0, 1.0, ""),
]


def roundRatios(
    samples: Samples, case: str, metric: str, higher: bool, side: str, reference: str
) -> list[float]:
    """How many times better ``side`` was than ``reference`` in each round both ran."""
    ours = {run["round"]: run[metric] for run in samples.get((case, side), [])}
    theirs = {run["round"]: run[metric] for run in samples.get((case, reference), [])}
    return [
        ours[r] / theirs[r] if higher else theirs[r] / ours[r]
        for r in sorted(ours.keys() & theirs.keys())
        if ours[r] and theirs[r]
    ]


def betterRatio(
    samples: Samples, case: str, metric: str, higher: bool, side: str, reference: str
) -> float | None:
    """How many times better ``side`` is than ``reference`` (above 1: better).

    The median of the ratios within each round. The two measurements of one round run
    a minute apart at most, so a drift of the whole machine's speed (which moves every
    side of a round alike, and which medians of each side alone do not cancel) drops
    out of the ratio.
    """
    ratios = roundRatios(samples, case, metric, higher, side, reference)
    return statistics.median(ratios) if ratios else None


TableSpec = tuple[str, str, bool | None, float, str, int]
"""One table of a side-by-side report: (title, metric, whether higher is better (None:
no ratio column), scale applied to the value, unit after it, digits shown)."""


def sideTable(
    spec: TableSpec,
    cases: list[str],
    sides: list[str],
    samples: Samples,
    reference: str = "twisted",
) -> str:
    """One metric for every case (columns) and side (rows), with ratios to ``reference``."""
    title, metric, higher, scale, unit, digits = spec
    found = medians(samples)
    shown = [case for case in cases if any((case, side) in found for side in sides)]
    header, rule = "| side |", "|---|"
    versus = f" vs {reference.capitalize()} |"
    for case in shown:
        header += f" {case} |" + (versus if higher is not None else "")
        rule += "---:|" + ("---:|" if higher is not None else "")
    lines = [f"{title}:", "", header, rule]
    for side in sides:
        row = f"| {side} |"
        for case in shown:
            value = found.get((case, side), {}).get(metric)
            row += f" {number(None if value is None else value * scale, digits)}"
            row += f"{unit if value is not None else ''} |"
            if higher is not None:
                better = betterRatio(samples, case, metric, higher, side, reference)
                row += f" {'n/a' if better is None else f'{better:.2f}x'} |"
        lines.append(row)
    return "\n".join(lines)


def report(cases: list[str], sides: list[str], samples: Samples, defaultSide: str | None) -> str:
    """The main table, the details table, torsion-uvloop against uvloop, and the goals."""
    table = medians(samples)
    lines = []
    columns = [c for c in COLUMNS if c[1] in cases]
    header = "| side |"
    rule = "|---|"
    for title, *_ in columns:
        header += f" {title} | vs Twisted |"
        rule += "---:|---:|"
    lines += [header, rule]
    for side in sides:
        label = f"**{side}** (default)" if side == defaultSide else side
        row = f"| {label} |"
        for _, case, metric, higher, digits, scale in columns:
            value = table.get((case, side), {}).get(metric)
            shown = number(None if value is None else value * scale, digits)
            better = betterRatio(samples, case, metric, higher, side, "twisted")
            row += f" {shown} | {'n/a' if better is None else f'{better:.2f}x'} |"
        lines.append(row)

    details = [d for d in DETAILS if d[1] in cases]
    if details:
        lines += ["", "| side | " + " | ".join(d[0] for d in details) + " |"]
        lines.append("|---|" + "---:|" * len(details))
        for side in sides:
            cells = []
            for _, case, metric, digits, scale, unit in details:
                value = table.get((case, side), {}).get(metric)
                cell = number(None if value is None else value * scale, digits)
                if metric == "answered" and value is not None:
                    cell += f" of {number(table[(case, side)]['connections'])}"
                cells.append(cell + (unit if value is not None else ""))
            lines.append(f"| {side} | " + " | ".join(cells) + " |")

    if "torsion-uvloop" in sides and "uvloop" in sides:
        parts = []
        for title, case, metric, higher, *_ in columns:
            better = betterRatio(samples, case, metric, higher, "torsion-uvloop", "uvloop")
            parts.append(f"{title} {'n/a' if better is None else f'{better:.2f}x'}")
        lines += ["", "torsion-uvloop against plain uvloop (above 1: better): " + ", ".join(parts)]
    if defaultSide in sides and "twisted" in sides:
        lines += ["", *goals(samples, defaultSide)]
    return "\n".join(lines)


GOALS = [
    ("echo ping-pong, round trips/s", "pingpong", "rate", True, 2.4, "twisted"),
    (
        "echo ping-pong per server CPU-second",
        "pingpong",
        "roundTripsPerCpuSecond",
        True,
        2.4,
        "twisted",
    ),
    ("bulk echo per server CPU-second", "bulk", "mbPerCpuSecond", True, 2.0, "twisted"),
    ("timers per CPU-second", "timers", "cpuRate", True, 1.3, "twisted"),
    ("memory per idle connection", "idle", "bytesPerConnection", False, 1.0, "twisted"),
]
UVLOOP_GOALS = [
    (
        "echo ping-pong per server CPU-second",
        "pingpong",
        "roundTripsPerCpuSecond",
        True,
        0.8,
        "uvloop",
    ),
    ("bulk echo per server CPU-second", "bulk", "mbPerCpuSecond", True, 0.8, "uvloop"),
]


def goals(samples: Samples, defaultSide: str) -> list[str]:
    """The issue's goals, each marked met or missed, with the ratio and its spread."""
    lines = ["Goals (issue 3):"]
    for name, case, metric, higher, target, reference in GOALS + UVLOOP_GOALS:
        side = defaultSide if reference == "twisted" else "torsion-uvloop"
        ratios = roundRatios(samples, case, metric, higher, side, reference)
        if not ratios:
            continue
        better = statistics.median(ratios)
        verdict = "met" if better >= target else "MISSED"
        lines.append(
            f"- {side} vs {reference}, {name}: {better:.2f}x (rounds {min(ratios):.2f}x "
            f"to {max(ratios):.2f}x; goal {target}x): {verdict}"
        )
    return lines


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()} "
        f"{platform.machine()}, CPython {platform.python_version()}"
    )


def hotSpots(raw: str, top: int = 15) -> str:
    """A Markdown table of the functions with the most samples of their own.

    Samples of the server's control thread and of module imports are left out: they
    are the harness, not the code under test.
    """
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if "control (" in stack or "<frozen importlib" in stack:
            continue
        leaf = stack.split(";")[-1]
        name, _, where = leaf.partition(" (")
        where = where.rstrip(")")
        # Name torsion's files by package path (the run imports a copy in a temporary
        # directory), everything else by file name.
        package = where.rfind("/torsion/")
        where = where[package + 1 :] if package >= 0 else Path(where).name
        own[f"{where}:{name}"] += int(count)
        total += int(count)
    rows = ["| function (file:name) | share of own samples |", "|---|---:|"]
    for function, count in own.most_common(top):
        rows.append(f"| {function} | {100 * count / total:.1f}% |")
    return "\n".join(rows) if total else "(no samples)"
