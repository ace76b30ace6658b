"""A display for the tests of the Tk reactor: the one in $DISPLAY, else a private Xvfb.

``display()`` answers whether Tk can open a window here. Without $DISPLAY it starts
Xvfb (Debian's xvfb, which .ci/run installs) on a free display number of its own
choosing (``-displayfd``), once per test process, and stops it when the process ends;
where there is neither, the Tk tests skip and say why (``reason``).
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import subprocess

_state: dict[str, object] = {}


def _startXvfb() -> str | None:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    read, write = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as chosen:
        number = chosen.readline().strip()  # Xvfb writes it once it is ready.
    if not number:
        process.kill()
        process.wait(5)
        return None

    def stop() -> None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()

    atexit.register(stop)
    return f":{number}"


def display() -> bool:
    """Whether Tk can open its main window here (starting Xvfb if needed)."""
    if "ok" not in _state:
        if not os.environ.get("DISPLAY"):
            started = _startXvfb()
            if started is not None:
                os.environ["DISPLAY"] = started
        ok, why = False, "no $DISPLAY and no Xvfb (Debian package xvfb)"
        if os.environ.get("DISPLAY"):
            try:
                import tkinter

                tkinter.Tk().destroy()
                # Freed here, in this thread, whatever cycle it was in: Tcl aborts the
                # process when Tk is freed by a collection in another thread.
                gc.collect()
                ok, why = True, ""
            except Exception as e:  # TclError, or no _tkinter in this Python
                why = f"Tk cannot start here: {e}"
        _state["ok"], _state["why"] = ok, why
    return bool(_state["ok"])


def reason() -> str:
    """Why ``display()`` said no."""
    display()
    return str(_state["why"])
