"""Encrypted persisted files: torsion.persisted._crypto."""

from __future__ import annotations

import struct

import pytest

from torsion.persisted import _crypto
from torsion.persisted._crypto import HEADER_SIZE, MAGIC, decrypt, encrypt, isEncrypted
from torsion.persisted.error import DecryptionError, FormatError

PLAIN = b"app = Instance('myapp.Server', name='echo')\n" * 10
WRONG = "wrong passphrase, or the file was modified"


def test_roundTrip() -> None:
    sealed = encrypt(PLAIN, "correct horse")
    assert isEncrypted(sealed)
    assert PLAIN not in sealed
    assert decrypt(sealed, "correct horse") == PLAIN


def test_eachEncryptionIsDifferent() -> None:
    assert encrypt(PLAIN, "pw") != encrypt(PLAIN, "pw")


def test_headerSaysWhatTheFileIs() -> None:
    sealed = encrypt(b"x", "pw")
    assert sealed.startswith(b"torsion-encrypted\n")
    assert len(sealed) == HEADER_SIZE + 1 + 16


def test_wrongPassphraseIsAClearError() -> None:
    sealed = encrypt(PLAIN, "right")
    with pytest.raises(DecryptionError, match=f"cannot decrypt app.etap: {WRONG}"):
        decrypt(sealed, "wrong", "app.etap")


@pytest.mark.parametrize(
    "position",
    [len(MAGIC) + 2, len(MAGIC) + 7, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 100, -1],
    ids=["cost", "salt", "nonce", "first byte", "middle", "tag"],
)
def test_anyModifiedByteIsDetected(position: int) -> None:
    sealed = bytearray(encrypt(PLAIN, "pw"))
    if position == len(MAGIC) + 2:
        # The scrypt cost, lowered: a valid header, but not the one the file was sealed with.
        sealed[position] -= 1
    else:
        sealed[position] ^= 0x01
    with pytest.raises(DecryptionError, match=WRONG):
        decrypt(bytes(sealed), "pw")


def test_truncatedFileIsDetected() -> None:
    sealed = encrypt(PLAIN, "pw")
    with pytest.raises(DecryptionError, match=WRONG):
        decrypt(sealed[:-1], "pw")
    with pytest.raises(FormatError, match="ends inside the encryption header"):
        decrypt(sealed[: HEADER_SIZE - 3], "pw")


def test_appendedBytesAreDetected() -> None:
    with pytest.raises(DecryptionError, match=WRONG):
        decrypt(encrypt(PLAIN, "pw") + b"\n", "pw")


def test_unknownFormatVersionSaysSo() -> None:
    sealed = bytearray(encrypt(PLAIN, "pw"))
    sealed[len(MAGIC)] = 2
    with pytest.raises(FormatError, match=r"encryption format 2 .* newer torsion"):
        decrypt(bytes(sealed), "pw")


def test_expensiveParametersAreRefusedBeforeDerivingAKey() -> None:
    sealed = bytearray(encrypt(PLAIN, "pw"))
    struct.pack_into("!BBB", sealed, len(MAGIC) + 2, 24, 8, 1)  # 2 GiB of scrypt
    with pytest.raises(FormatError, match="beyond what this loader allows"):
        decrypt(bytes(sealed), "pw")


def test_notEncryptedDataIsRefused() -> None:
    with pytest.raises(FormatError, match="not an encrypted file"):
        decrypt(PLAIN, "pw")


def test_passphraseIsNormalised() -> None:
    composed = "caf\u00e9"
    decomposed = "cafe\u0301"
    assert decrypt(encrypt(PLAIN, composed), decomposed) == PLAIN
    assert decrypt(encrypt(PLAIN, composed.encode()), composed) == PLAIN


def test_emptyPassphraseIsRefused() -> None:
    with pytest.raises(ValueError, match="passphrase is empty"):
        encrypt(PLAIN, "")


def test_defaultCostIsWrittenInTheHeader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real default, not the tests' cheap one
    assert _crypto.SCRYPT_LOG2N == 17
    sealed = encrypt(b"x", "pw")
    version, kdf, log2n, r, p, aead = struct.unpack_from("!BBBBBB", sealed, len(MAGIC))
    assert (version, kdf, log2n, r, p, aead) == (1, 1, 17, 8, 1, 1)
    assert decrypt(sealed, "pw") == b"x"


def test_costOfTheFileIsUsedNotTheCurrentDefault(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = encrypt(PLAIN, "pw")
    monkeypatch.setattr(_crypto, "SCRYPT_LOG2N", 11)
    assert decrypt(sealed, "pw") == PLAIN
