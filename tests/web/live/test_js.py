"""The page's live client, torsion/web/_live.js, tested under Node (node --test runs
tests/web/live/js/live.test.js against a fake WebSocket and fake timers).

Skipped, saying so, where Node is not installed (Debian's package is ``nodejs``;
.ci/run installs it). The same client runs in a real browser in test_chromium.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node") or shutil.which("nodejs")
TESTS = Path(__file__).parent / "js"


@pytest.mark.skipif(NODE is None, reason="Node is not installed (apt-get install nodejs)")
def test_liveClientUnderNode() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", str(TESTS / "live.test.js")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, output[-4000:]
    assert "# fail 0" in output, output[-4000:]
