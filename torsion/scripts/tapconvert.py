"""``tapconvert``: convert a persisted application between the .tap, .tas and .tax forms.

    python -m torsion.scripts.tapconvert -i echo-shutdown.tap -o echo.tas
    python -m torsion.scripts.tapconvert -i echo.tas -o echo.etap -t pickle -e

``-f`` is the input form (guessed from the extension by default; ``python`` runs a
.tac file and takes its ``application``), ``-t`` the output form (from the output's
extension, else ``source``). ``-d`` says the input is encrypted, ``-e`` encrypts the
output. Passphrases come from the environment when set, so that scripts and tests need
no terminal: ``TORSION_PASSPHRASE`` for the input (and for the output too), and
``TORSION_NEW_PASSPHRASE`` for the output when it should differ; otherwise they are
asked for on the terminal (the output's twice). Errors are one line on stderr and exit
status 1; usage errors exit with status 2.

Converting loads the input, which runs code (see torsion.persisted.sob): convert only
files you trust.

``run(argv)`` is the entry point for the ``torsion`` command. Tests:
tests/scripts/test_tapconvert.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from torsion.persisted import sob
from torsion.scripts._passphrase import (
    NEW_PASSPHRASE_VARIABLE,
    PASSPHRASE_VARIABLE,
    PassphraseError,
    askPassphrase,
)

__all__ = ["NEW_PASSPHRASE_VARIABLE", "PASSPHRASE_VARIABLE", "run"]

PROGRAM = "tapconvert"


class _Failure(Exception):
    """An error to report as one line and exit 1."""


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Convert a persisted application between the pickle (.tap), source"
        " (.tas) and XML (.tax) forms. Loading the input runs code: convert only files"
        " you trust.",
        epilog=f"Passphrases: ${PASSPHRASE_VARIABLE} (input, and output unless"
        f" ${NEW_PASSPHRASE_VARIABLE} is set), else asked on the terminal.",
    )
    parser.add_argument(
        "-i", "--in", dest="input", required=True, metavar="IN", help="the file to read"
    )
    parser.add_argument(
        "-o", "--out", dest="output", required=True, metavar="OUT", help="the file to write"
    )
    parser.add_argument(
        "-f",
        "--typein",
        default="guess",
        choices=["guess", "python", *sob.STYLES],
        help="the input form (default: guess from the extension)",
    )
    parser.add_argument(
        "-t",
        "--typeout",
        default=None,
        choices=list(sob.STYLES),
        help="the output form (default: from OUT's extension, else source)",
    )
    parser.add_argument(
        "-d",
        "--decrypt",
        action="store_true",
        help="the input is encrypted: ask for its passphrase",
    )
    parser.add_argument(
        "-e", "--encrypt", action="store_true", help="encrypt the output: ask for a passphrase"
    )
    return parser


def _passphrase(variables: Sequence[str], prompt: str, confirm: bool) -> str:
    try:
        return askPassphrase(variables, prompt, confirm)
    except PassphraseError as e:
        raise _Failure(str(e)) from None


def _outputStyle(typeout: str | None, output: str) -> str:
    if typeout is not None:
        return typeout
    try:
        guessed = sob.guessType(output)
    except ValueError:
        return "source"
    return guessed if guessed in sob.STYLES else "source"


def _convert(options: argparse.Namespace) -> str:
    typein = options.typein
    if typein == "guess":
        try:
            typein = sob.guessType(options.input)
        except ValueError as e:
            raise _Failure(f"{e}; give the input form with -f") from None
    inPassphrase = None
    if options.decrypt:
        inPassphrase = _passphrase(
            [PASSPHRASE_VARIABLE], f"Passphrase for {options.input}: ", confirm=False
        )
    try:
        if typein == "python":
            value: Any = sob.loadValueFromFile(options.input, "application", inPassphrase)
        else:
            value = sob.load(options.input, typein, inPassphrase)
    except sob.PassphraseRequired as e:
        raise _Failure(f"{e} (add -d)") from None
    except sob.FormatError as e:
        if options.decrypt and "is not encrypted" in str(e):
            raise _Failure(f"{options.input} is not encrypted: drop -d") from None
        raise
    outPassphrase = None
    if options.encrypt:
        outPassphrase = _passphrase(
            [NEW_PASSPHRASE_VARIABLE, PASSPHRASE_VARIABLE],
            f"Passphrase for {options.output}: ",
            confirm=True,
        )
    persistable = sob.IPersistable(value, None)
    if persistable is None:
        persistable = sob.Persistent(value, os.path.splitext(os.path.basename(options.input))[0])
    persistable.setStyle(_outputStyle(options.typeout, options.output))
    try:
        return persistable.save(filename=options.output, passphrase=outPassphrase)
    except OSError as e:
        raise _Failure(f"cannot write {options.output}: {e.strerror or e}") from None


def run(argv: Sequence[str] | None = None, prog: str = PROGRAM) -> int:
    """Run tapconvert with ``argv`` (default: the command line); return the exit status.

    Args:
        prog: the program name in messages (``torsion tapconvert`` passes its own).
    """
    options = _parser(prog).parse_args(argv)
    try:
        _convert(options)
    except (_Failure, sob.PersistenceError, ValueError) as e:
        print(f"{prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
