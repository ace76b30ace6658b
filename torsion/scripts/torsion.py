"""``torsion``: the command for making and converting application files and units.

    torsion mktap PLUGIN [options]       # a plugin's service saved as PLUGIN.tap
    torsion tapconvert -i IN -o OUT      # between .tap, .tas and .tax (and encrypted)
    torsion mkunit --name NAME ...       # systemd units that run it with torsiond
    torsion passwd FILE USERNAME         # a hashed password in a --auth file:FILE file

``torsion --help`` lists the commands, ``torsion COMMAND --help`` their options.
Running the applications is torsiond's job. Exit status: 0, 1 on failure (one line on
stderr), 2 for a bad command line.
Tests: tests/scripts/test_torsion.py, test_mktap.py, test_mkunit.py,
tests/cred/test_passwd.py.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from torsion.application import app
from torsion.python import usage
from torsion.scripts import mktap, mkunit, passwd, tapconvert

__all__ = ["TorsionOptions", "run"]

PROGRAM = "torsion"


class _Arguments(usage.Options):
    """Takes a command's words as they are, for a command with its own parser."""

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        self.arguments = list(options or [])


class TorsionOptions(usage.Options):
    """``torsion COMMAND [options]``."""

    synopsis = "Usage: torsion COMMAND [options]"
    longdesc = "Run 'torsion COMMAND --help' for the options of a command."
    subCommands = [
        [
            "mktap",
            None,
            mktap.MktapOptions,
            "Save a plugin's service as an application file (.tap, .tas, .tax) for torsiond -f.",
        ],
        [
            "tapconvert",
            None,
            _Arguments,
            "Convert an application file between the .tap, .tas and .tax forms, encrypted or not.",
        ],
        [
            "mkunit",
            None,
            mkunit.MkunitOptions,
            "Write systemd units (.service, .socket) that run an application with torsiond.",
        ],
        [
            "passwd",
            None,
            passwd.PasswdOptions,
            "Set a user's password, hashed, in a password file (for --auth file:FILE).",
        ],
    ]

    def postOptions(self) -> None:
        """Require a command."""
        if self.subCommand is None:
            raise usage.UsageError("give a command: mktap, tapconvert, mkunit or passwd")


def run(argv: Sequence[str] | None = None) -> int:
    """Run ``torsion`` with ``argv`` (default: the command line); return the exit status."""
    options = TorsionOptions()
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        options.parseOptions(words)
    except usage.UsageError as e:
        command = f"{PROGRAM} {options.subCommand}" if options.subCommand else PROGRAM
        print(f"{command}: {e}", file=sys.stderr)
        print(f"{command}: try '{command} --help' for help", file=sys.stderr)
        return 2
    sub = options.subOptions
    if options.subCommand == "tapconvert":
        assert isinstance(sub, _Arguments)
        try:
            return tapconvert.run(sub.arguments, prog=f"{PROGRAM} tapconvert")
        except SystemExit as e:  # argparse's --help and usage errors
            return e.code if isinstance(e.code, int) else 2
    if options.subCommand == "mkunit":
        return mkunit.run(sub, prog=f"{PROGRAM} mkunit")
    if options.subCommand == "passwd":
        assert isinstance(sub, passwd.PasswdOptions)
        return passwd.run(sub, prog=f"{PROGRAM} passwd")
    assert isinstance(sub, mktap.MktapOptions)
    try:
        mktap.makeTap(sub)
    except app.StartupError as e:
        print(f"{PROGRAM} mktap: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    """The console script's entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
