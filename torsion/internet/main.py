"""installReactor: make one reactor the process-wide ``torsion.internet.reactor``.

A program has one global reactor. ``installReactor`` puts it in ``sys.modules`` as
``torsion.internet.reactor`` (so ``from torsion.internet import reactor`` finds it) and
remembers where it was installed from, so that a second install fails with an error
naming both reactors and the place of the first install.
Tests: tests/internet/test_main.py.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, TypeVar

from torsion.internet.error import ReactorAlreadyInstalledError

__all__ = ["installNewReactor", "installReactor"]

_Reactor = TypeVar("_Reactor")

_MODULE = "torsion.internet.reactor"
_installedFrom: str | None = None


def installReactor(reactor: Any) -> None:
    """Install ``reactor`` as the global reactor.

    Raises:
        ReactorAlreadyInstalledError: if one is installed; the message says which one,
            where it was installed from, and which reactor this call tried to install.
    """
    global _installedFrom
    existing = sys.modules.get(_MODULE)
    if existing is not None:
        where = _installedFrom or "an unknown place (sys.modules was set directly)"
        raise ReactorAlreadyInstalledError(
            f"reactor already installed: {type(existing).__name__} was installed at {where}; "
            f"cannot also install {type(reactor).__name__}. Install the reactor you want "
            "before anything imports torsion.internet.reactor."
        )
    frames = traceback.extract_stack(limit=16)[:-1]
    outside = [
        f
        for f in frames
        if "torsion/internet/" not in f.filename.replace("\\", "/")
        and not f.filename.startswith("<frozen ")
    ]
    origin = (outside or frames)[-1]
    _installedFrom = f"{origin.filename}:{origin.lineno}"
    sys.modules[_MODULE] = reactor
    import torsion.internet

    torsion.internet.reactor = reactor  # type: ignore[attr-defined]


def installNewReactor(reactor: _Reactor) -> _Reactor:
    """Install ``reactor``, just made by a reactor module's ``install()``, and return it;
    if it cannot be installed, close it (its waker, its loop's watchers) and re-raise.

    Raises:
        ReactorAlreadyInstalledError: as ``installReactor``.
    """
    try:
        installReactor(reactor)
    except BaseException:
        reactor._close()  # type: ignore[attr-defined]
        raise
    return reactor


def _uninstallReactor() -> None:
    """Forget the global reactor (for tests that install their own)."""
    global _installedFrom
    _installedFrom = None
    sys.modules.pop(_MODULE, None)
    import torsion.internet

    torsion.internet.__dict__.pop("reactor", None)
