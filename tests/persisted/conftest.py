"""Fixtures for the persistence tests: a cheap key derivation, a clean upgrade registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from torsion.persisted import _crypto, styles


@pytest.fixture(autouse=True)
def cheapKeyDerivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Derive keys with scrypt n=2**10 instead of 2**17, so that encrypting is quick.

    The cost is written into each file's header and read back from it, so the code under
    test is the same; test_crypto.py checks the real default separately.
    """
    monkeypatch.setattr(_crypto, "SCRYPT_LOG2N", 10)


@pytest.fixture(autouse=True)
def cleanUpgradeRegistry() -> Iterator[None]:
    yield
    styles.versionedsToUpgrade.clear()
    styles.upgraded.clear()
