"""Getting a passphrase for an encrypted application file, from the environment or a terminal.

torsion's commands (tapconvert, mktap, torsiond) read passphrases from environment
variables when they are set, so that scripts, units and tests need no terminal
(``TORSION_PASSPHRASE``; ``TORSION_NEW_PASSPHRASE`` for a file being written, where it
should differ), and otherwise ask on the terminal (/dev/tty, not stdin) without echo.
A passphrase is never taken from the command line, where ``ps`` would show it.
Tests: tests/scripts/test_tapconvert.py, test_mktap.py, test_torsiond.py.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence

__all__ = ["NEW_PASSPHRASE_VARIABLE", "PASSPHRASE_VARIABLE", "PassphraseError", "askPassphrase"]

PASSPHRASE_VARIABLE = "TORSION_PASSPHRASE"
NEW_PASSPHRASE_VARIABLE = "TORSION_NEW_PASSPHRASE"


class PassphraseError(Exception):
    """No passphrase could be had; the message says how to give one."""


def askPassphrase(variables: Sequence[str], prompt: str, confirm: bool) -> str:
    """Return the first of ``variables`` that is set, else ask on the terminal.

    Args:
        confirm: ask twice, and refuse if the two differ (for a file being written).

    Raises:
        PassphraseError: none is set and there is no terminal, the answers differ,
            or the answer is empty.
    """
    for variable in variables:
        value = os.environ.get(variable)
        if value:
            return value
    names = " or ".join(f"${v}" for v in variables)
    if not haveTerminal():
        raise PassphraseError(f"no passphrase given: set {names}, or run in a terminal")
    try:
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again, to confirm: ") != value:
            raise PassphraseError("the two passphrases differ")
    except (EOFError, KeyboardInterrupt):
        raise PassphraseError(f"no passphrase given (set {names}, or run in a terminal)") from None
    if not value:
        raise PassphraseError("the passphrase is empty")
    return value


def haveTerminal() -> bool:
    """Tell whether getpass can ask on a terminal (it reads /dev/tty, not stdin)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True
