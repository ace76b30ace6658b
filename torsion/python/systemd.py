"""The sockets systemd passes to a socket-activated service (sd_listen_fds(3)).

With socket activation, systemd binds the service's sockets itself and starts the
service with them open as descriptors 3, 4, ...; ``LISTEN_FDS`` says how many,
``LISTEN_PID`` which process they are meant for (a child started by the service
inherits the variables but not the right to the sockets), and ``LISTEN_FDNAMES``
optionally names them (``FileDescriptorName=`` in the .socket unit).
``ListenFDs.fromEnvironment()`` reads them; the ``systemd:`` endpoint description
(``systemd:domain=INET:index=0``) listens on one of them.
Tests: tests/python/test_systemd.py, tests/application/test_systemd_activation.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["ListenFDs"]


class ListenFDs:
    """The descriptors (and their names) passed to this process by socket activation.

    Args:
        descriptors: the descriptor numbers, in systemd's order.
        names: one name per descriptor ("" where unnamed); missing ones are "".
    """

    # systemd passes the first socket as descriptor 3 (SD_LISTEN_FDS_START).
    _START = 3

    def __init__(self, descriptors: Sequence[int], names: Sequence[str] = ()) -> None:
        self._descriptors = list(descriptors)
        names = list(names)[: len(self._descriptors)]
        self._names = names + [""] * (len(self._descriptors) - len(names))

    @classmethod
    def fromEnvironment(
        cls, environ: Mapping[str, str] | None = None, start: int | None = None
    ) -> ListenFDs:
        """Read LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (from ``os.environ`` by default).

        The result is empty unless LISTEN_PID is this process's id and LISTEN_FDS is
        a positive number: the sockets were then not meant for this process.
        """
        if environ is None:
            environ = os.environ
        if start is None:
            start = cls._START
        if environ.get("LISTEN_PID", "").strip() != str(os.getpid()):
            return cls([])
        try:
            count = int(environ.get("LISTEN_FDS", ""))
        except ValueError:
            return cls([])
        if count < 1:
            return cls([])
        names = environ.get("LISTEN_FDNAMES", "")
        return cls(range(start, start + count), names.split(":") if names else ())

    def inheritedDescriptors(self) -> list[int]:
        """Return the descriptor numbers, in order."""
        return list(self._descriptors)

    def inheritedNamedDescriptors(self) -> dict[str, int]:
        """Return ``{name: descriptor}`` for the named descriptors."""
        return {name: fd for name, fd in zip(self._names, self._descriptors, strict=True) if name}

    def __repr__(self) -> str:
        return f"ListenFDs({self._descriptors!r}, {self._names!r})"
