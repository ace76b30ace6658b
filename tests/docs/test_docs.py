"""The documentation's code runs: every ``python`` block of each page in docs/.

The blocks of one page are joined in order and run as one program in a fresh
interpreter (a page may install and run the global reactor), so a page reads as one
program and a broken example fails the suite instead of misleading a reader.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def pythonBlocks(page: Path) -> list[str]:
    """Return the code of each ```python block of ``page``, in order."""
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


PAGES = sorted(p for p in DOCS.glob("**/*.md") if pythonBlocks(p))


def test_theDocumentationHasRunnableExamples() -> None:
    assert len(PAGES) >= 4, f"expected pages with python blocks in {DOCS}"


def test_blockExtractionFindsEachBlock(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n```python\na = 1\n```\n```sh\nls\n```\n```python\nb = a\n```\n")
    assert pythonBlocks(page) == ["a = 1\n", "b = a\n"]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_pageRuns(page: Path, tmp_path: Path) -> None:
    program = "\n".join(pythonBlocks(page))
    script = tmp_path / f"doc_{page.stem}.py"  # not "logging.py": that would shadow the module
    script.write_text(program, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (
        f"the python blocks of {page.name} failed:\n{done.stdout}\n{done.stderr}"
    )
