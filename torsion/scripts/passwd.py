"""``torsion passwd FILE USERNAME``: set a user's password in a password file, hashed.

    torsion passwd /etc/myapp/passwd alice              # prompts twice
    echo "$PASSWORD" | torsion passwd --stdin passwd alice
    torsion passwd --scheme bcrypt passwd alice
    torsion passwd --delete passwd alice

The file is the one ``--auth file:FILE`` reads (torsion.cred.checkers.FilePasswordDB):
``USER:HASH`` lines. The user's line is replaced, keeping any fields after the
password, or added at the end; other lines and comments stay as they were. The new
file is written beside the old one and renamed over it, so a server reading it at a
login sees the old file or the new one, never half of one; a new file is made
readable by its owner only. Exit status: 0, 1 on failure (one line on stderr), 2 for a
bad command line.
Tests: tests/cred/test_passwd.py.
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from collections.abc import Callable
from typing import TextIO

from torsion.cred import hashing
from torsion.python import usage

__all__ = ["PasswdOptions", "run", "setPassword"]


class PasswdOptions(usage.Options):
    """The options of ``torsion passwd``."""

    synopsis = "Usage: torsion passwd [options] FILE USERNAME"
    longdesc = (
        "Sets USERNAME's password in FILE (made if missing) to a hash of the password "
        "you type, for servers run with --auth file:FILE. The password is asked for twice "
        "on the terminal, or read as one line from standard input with --stdin."
    )
    optFlags = [
        ["stdin", None, "Read the password as one line from standard input."],
        ["delete", None, "Remove USERNAME's line instead of setting a password."],
    ]
    optParameters = [
        ["scheme", None, hashing.DEFAULT_SCHEME, f"The hash: {', '.join(hashing.HASHERS)}."],
    ]

    def parseArgs(self, *args: str) -> None:
        """Take FILE and USERNAME."""
        if len(args) != 2:
            raise usage.UsageError("give the password file and the user name: FILE USERNAME")
        self["filename"], self["username"] = args

    def postOptions(self) -> None:
        """Refuse a user name the file cannot hold and an unknown scheme."""
        username = self["username"]
        if not username or ":" in username or "\n" in username or "\r" in username:
            raise usage.UsageError(
                f"the user name {username!r} cannot be stored: it must be non-empty, "
                "without ':' or line breaks"
            )
        if username.startswith("#"):
            raise usage.UsageError("a user name cannot start with '#' (that marks a comment)")
        if self["scheme"] not in hashing.HASHERS:
            raise usage.UsageError(
                f"unknown --scheme {self['scheme']!r}; choose one of {', '.join(hashing.HASHERS)}"
            )


def setPassword(filename: str, username: str, hashed: str | None) -> bool:
    """Replace (or add) ``username``'s line in ``filename``; None removes the line.

    Returns:
        Whether the user had a line before.

    Raises:
        OSError: the file cannot be read or written.
    """
    user = username.encode("utf-8")
    try:
        with open(filename, "rb") as f:
            lines = f.read().splitlines()
        mode = os.stat(filename).st_mode & 0o7777
    except FileNotFoundError:
        lines, mode = [], 0o600
    found = False
    kept: list[bytes] = []
    for line in lines:
        fields = line.split(b":")
        if not line.startswith(b"#") and fields[0] == user:
            if found or hashed is None:
                found = True
                continue
            found = True
            fields[1:2] = [hashed.encode("ascii")]
            line = b":".join(fields)
        kept.append(line)
    if not found and hashed is not None:
        kept.append(user + b":" + hashed.encode("ascii"))
    directory = os.path.dirname(os.path.abspath(filename))
    fd, temporary = tempfile.mkstemp(prefix=".passwd-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(line + b"\n" for line in kept))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, filename)
    except BaseException:
        os.unlink(temporary)
        raise
    return found


def _readPassword(options: PasswdOptions, stdin: TextIO, prompt: Callable[[str], str]) -> str:
    if options["stdin"]:
        password = stdin.readline()
        if password.endswith("\n"):
            password = password[:-1]
        if password.endswith("\r"):
            password = password[:-1]
    else:
        password = prompt(f"Password for {options['username']}: ")
        again = prompt("The same password again: ")
        if password != again:
            raise ValueError("the two passwords differ; nothing was changed")
    if not password:
        raise ValueError("the password is empty; nothing was changed")
    if "\n" in password or "\r" in password:
        raise ValueError("the password has a line break; nothing was changed")
    return password


def run(
    options: PasswdOptions,
    prog: str = "torsion passwd",
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
) -> int:
    """Do what ``options`` (parsed PasswdOptions) say; return the exit status.

    The password comes from ``prompt`` (default: getpass.getpass, on the terminal) or,
    with --stdin, from ``stdin`` (default: sys.stdin).
    """
    filename, username = options["filename"], options["username"]
    try:
        if options["delete"]:
            if not setPassword(filename, username, None):
                print(f"{prog}: error: {username!r} has no line in {filename}", file=sys.stderr)
                return 1
            print(f"Removed {username!r} from {filename}.")
            return 0
        password = _readPassword(
            options,
            stdin if stdin is not None else sys.stdin,
            prompt if prompt is not None else getpass.getpass,
        )
        hashed = hashing.hashPassword(password, options["scheme"])
        existed = setPassword(filename, username, hashed)
    except (ValueError, EOFError) as e:
        print(f"{prog}: error: {e or 'no password was given'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was changed", file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"{prog}: error: cannot update {e.filename or filename}: {e.strerror or e}",
            file=sys.stderr,
        )
        return 1
    verb = "Changed" if existed else "Added"
    print(f"{verb} the password of {username!r} in {filename} ({options['scheme']}).")
    return 0
