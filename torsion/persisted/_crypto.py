"""Encrypted persisted files: a passphrase-derived key and authenticated encryption.

An encrypted file is a header followed by the AES-256-GCM ciphertext of the plain file
(pickle, source or XML bytes); the key comes from the passphrase with scrypt. Layout:

    magic        b"torsion-encrypted\\n"   (so `head -1` says what the file is)
    version      1 byte   (1)
    kdf          1 byte   (1: scrypt)
    log2 n       1 byte   scrypt cost, n = 2 ** log2n
    r, p         1 byte each
    aead         1 byte   (1: AES-256-GCM)
    salt         16 bytes
    nonce        12 bytes
    ciphertext   the rest, ending with the 16-byte GCM tag

The whole header is authenticated data, so changing any byte of the file, header or
ciphertext, fails the tag check exactly as a wrong passphrase does: both are reported as
"wrong passphrase, or the file was modified", and never give garbage. Reading refuses
scrypt parameters that would need more than 256 MiB, so a crafted header cannot make
the loader exhaust memory.

Tests: tests/persisted/test_crypto.py.
"""

from __future__ import annotations

import os
import struct
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from torsion.persisted.error import DecryptionError, FormatError

__all__ = ["MAGIC", "decrypt", "encrypt", "isEncrypted"]

MAGIC = b"torsion-encrypted\n"
VERSION = 1
KDF_SCRYPT = 1
AEAD_AES256GCM = 1

# scrypt with n = 2**17, r = 8, p = 1: 128 MiB and a few tenths of a second per
# derivation, in line with current advice for keys derived from passphrases.
SCRYPT_LOG2N = 17
SCRYPT_R = 8
SCRYPT_P = 1
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

_PARAMETERS = struct.Struct("!BBBBBB")
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + _PARAMETERS.size + SALT_SIZE + NONCE_SIZE


def isEncrypted(data: bytes) -> bool:
    """Tell whether ``data`` is (the start of) an encrypted persisted file."""
    return data.startswith(MAGIC)


def _key(passphrase: str | bytes, salt: bytes, log2n: int, r: int, p: int) -> bytes:
    if isinstance(passphrase, str):
        # The same passphrase typed on two systems may arrive in two normal forms.
        passphrase = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if not passphrase:
        raise ValueError("the passphrase is empty; give a passphrase to encrypt or decrypt")
    return Scrypt(salt=salt, length=32, n=2**log2n, r=r, p=p).derive(passphrase)


def encrypt(plaintext: bytes, passphrase: str | bytes) -> bytes:
    """Return ``plaintext`` encrypted under ``passphrase``, with the header described above."""
    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    header = (
        MAGIC
        + _PARAMETERS.pack(VERSION, KDF_SCRYPT, SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P, AEAD_AES256GCM)
        + salt
        + nonce
    )
    key = _key(passphrase, salt, SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def decrypt(data: bytes, passphrase: str | bytes, filename: str = "the file") -> bytes:
    """Return the plaintext of an encrypted file made by ``encrypt``.

    Raises:
        FormatError: ``data`` is not an encrypted file, is cut short, or was written by a
            newer torsion with a format this one does not know.
        DecryptionError: the passphrase is wrong or the file was modified.
    """
    if not isEncrypted(data):
        raise FormatError(f"{filename} is not an encrypted file")
    if len(data) < HEADER_SIZE + TAG_SIZE:
        raise FormatError(f"{filename} is damaged: it ends inside the encryption header")
    offset = len(MAGIC)
    version, kdf, log2n, r, p, aead = _PARAMETERS.unpack_from(data, offset)
    if version != VERSION or kdf != KDF_SCRYPT or aead != AEAD_AES256GCM:
        raise FormatError(
            f"{filename} uses encryption format {version} (key derivation {kdf}, cipher"
            f" {aead}), which this torsion does not know; it may come from a newer torsion"
        )
    if not (1 <= log2n <= 30 and r >= 1 and p >= 1) or 128 * r * (2**log2n + p) > MAX_SCRYPT_MEMORY:
        raise FormatError(
            f"{filename} asks for scrypt parameters (n=2**{log2n}, r={r}, p={p}) beyond what"
            " this loader allows; the file is damaged or not made by torsion"
        )
    offset += _PARAMETERS.size
    salt = data[offset : offset + SALT_SIZE]
    nonce = data[offset + SALT_SIZE : HEADER_SIZE]
    header = data[:HEADER_SIZE]
    key = _key(passphrase, salt, log2n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, data[HEADER_SIZE:], header)
    except InvalidTag:
        raise DecryptionError(
            f"cannot decrypt {filename}: wrong passphrase, or the file was modified"
        ) from None
