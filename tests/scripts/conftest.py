"""The ``runner`` fixture: torsion's commands run as child processes in the test's directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts.torsiondkit import Runner


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    made = Runner(tmp_path)
    try:
        yield made
    finally:
        made.cleanUp()
