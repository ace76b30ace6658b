"""``torsiond``: run a torsion application as a daemon (the seed's ``twistd``).

    torsiond --python echo.tac          # daemonize; torsiond.pid, torsiond.log
    kill $(cat torsiond.pid)            # stop; saves echo-shutdown.tap
    torsiond -f echo-shutdown.tap       # start again from the saved state
    torsiond -n echo --listen tcp:8007  # a plugin's service, in the foreground

``torsiond --help`` lists the options and the plugins; docs/torsiond.md is the guide.
``run(argv)`` returns the exit status: 0, 1 when the application cannot start (one
line on stderr saying why), 2 for a bad command line. ``python -m
torsion.scripts.torsiond`` is the same program.
Tests: tests/scripts/test_torsiond.py.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from torsion.application import app
from torsion.python import usage

__all__ = ["ServerOptions", "run"]

ServerOptions = app.ServerOptions

PROGRAM = "torsiond"


def run(argv: Sequence[str] | None = None) -> int:
    """Run torsiond with ``argv`` (default: the command line); return the exit status."""
    options = ServerOptions()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        print(f"{PROGRAM}: try '{PROGRAM} --help' for help", file=sys.stderr)
        return 2
    if sys.platform == "win32":  # pragma: no cover
        print(f"{PROGRAM}: error: torsiond runs on POSIX systems only", file=sys.stderr)
        return 1
    from torsion.scripts._torsiond_unix import UnixApplicationRunner

    return UnixApplicationRunner(options).run()


def main() -> None:
    """The console script's entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
