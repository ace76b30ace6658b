"""Saving and loading whole applications: ``Persistent``, ``load``, ``loadValueFromFile``.

``Persistent(original, name)`` saves ``original`` as ``NAME.tap`` (pickle), ``NAME.tas``
(Python source, torsion.persisted.aot) or ``NAME.tax`` (XML,
torsion.persisted.marmalade) as its style says; with a tag, ``NAME-TAG.tap`` (torsiond
saves ``echo-shutdown.tap`` on shutdown); with a passphrase, encrypted, as ``.etap``,
``.etas`` or ``.etax``. Files are written to a temporary file in the same directory and
renamed over the old one, so a crash never leaves half a file; a new file is readable
by its owner only, since saved state often holds secrets. ``load(filename, style)``
reads one back; ``loadValueFromFile(filename, variable)`` runs a Python file (a .tac)
and returns one of its variables. An application (torsion.application.service) adapts
to ``IPersistable``.

Loading runs code. A .tac file is a program; a .tap is a pickle, and a .tas or .tax
names the classes to import and call: load only files you trust, never a file that
came from elsewhere. torsion loads no persisted file except those its user names.

Tests: tests/persisted/test_sob.py.
"""

from __future__ import annotations

import os
import pickle
import stat
import tempfile
import traceback
from collections.abc import Callable
from typing import Any

from zope.interface import Interface, implementer

from torsion.logger import Logger
from torsion.persisted import _crypto, styles
from torsion.persisted.aot import jellyToSource, unjellyFromSource
from torsion.persisted.error import (
    DecryptionError,
    FormatError,
    NotPersistableError,
    PassphraseRequired,
    PersistenceError,
)
from torsion.persisted.marmalade import jellyToXML, unjellyFromXML

__all__ = [
    "STYLES",
    "DecryptionError",
    "FormatError",
    "IPersistable",
    "NotPersistableError",
    "PassphraseRequired",
    "Persistant",
    "PersistenceError",
    "Persistent",
    "guessType",
    "load",
    "loadValueFromFile",
]

_log = Logger()

# Each style's file extension (encrypted files add an "e" in front: .etap) and what it
# is called in messages.
STYLES: dict[str, tuple[str, str]] = {
    "pickle": ("tap", "pickle (.tap)"),
    "source": ("tas", "source (.tas)"),
    "xml": ("tax", "XML (.tax)"),
}

_TYPES = {
    ".tac": "python",
    ".etac": "python",
    ".py": "python",
    ".tap": "pickle",
    ".etap": "pickle",
    ".tas": "source",
    ".etas": "source",
    ".tax": "xml",
    ".etax": "xml",
}

# The module name a .tac file runs under: classes defined there have it as their
# __module__, which tells the savers (and their error messages) where they came from.
TAC_MODULE = "__tac__"


class IPersistable(Interface):
    """An object that can save itself to a file (an application adapts to this)."""

    def setStyle(style: str) -> None:
        """Choose the form of the files ``save`` writes: 'pickle', 'source' or 'xml'."""

    def save(
        tag: str | None = None, filename: str | None = None, passphrase: str | None = None
    ) -> str:
        """Save to ``filename``, or to NAME[-TAG].EXT; encrypt with ``passphrase`` if given.

        Returns the name of the file written.
        """


def _dumpPickle(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _dumpSource(obj: object) -> bytes:
    return jellyToSource(obj).encode("utf-8")


def _dumpXML(obj: object) -> bytes:
    return jellyToXML(obj).encode("utf-8")


_DUMPERS: dict[str, Callable[[object], bytes]] = {
    "pickle": _dumpPickle,
    "source": _dumpSource,
    "xml": _dumpXML,
}


def _checkStyle(style: str) -> str:
    if style not in STYLES:
        raise ValueError(
            f"unknown persistence style {style!r}: choose one of {', '.join(map(repr, STYLES))}"
        )
    return style


@implementer(IPersistable)
class Persistent:
    """Saves an object (``original``, typically an application) under a base ``name``."""

    def __init__(self, original: object, name: str) -> None:
        self.original = original
        self.name = name
        self.style = "pickle"

    def setStyle(self, style: str) -> None:
        """Choose 'pickle' (.tap, the default: compact, fast), 'source' (.tas) or 'xml' (.tax)."""
        self.style = _checkStyle(style)

    def _getFilename(self, filename: str | None, ext: str, tag: str | None) -> str:
        if filename is not None:
            return filename
        return f"{self.name}-{tag}.{ext}" if tag else f"{self.name}.{ext}"

    def save(
        self, tag: str | None = None, filename: str | None = None, passphrase: str | None = None
    ) -> str:
        """Write ``original`` to a file in this object's style, atomically; return its name.

        Without ``filename`` the file is NAME.EXT, or NAME-TAG.EXT with a ``tag``; with a
        ``passphrase`` it is encrypted and the extension gets an "e" (.etap).

        Raises:
            NotPersistableError: something in the object graph cannot be saved.
            OSError: the file cannot be written.
        """
        style = _checkStyle(self.style)
        ext, description = STYLES[style]
        if passphrase is not None:
            ext = "e" + ext
        finalname = self._getFilename(filename, ext, tag)
        try:
            data = _DUMPERS[style](self.original)
        except NotPersistableError as e:
            raise NotPersistableError(
                f"cannot save {self.name!r} in the {description} form: {e}"
            ) from None
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise NotPersistableError(
                f"cannot save {self.name!r} in the {description} form: {e}{_hint(str(e))}"
            ) from None
        if passphrase is not None:
            data = _crypto.encrypt(data, passphrase)
        _writeAtomically(finalname, data)
        _log.info("Saved {name} to {filename}", name=self.name, filename=finalname)
        return finalname

    def __repr__(self) -> str:
        return f"<Persistent {self.name!r} ({self.style}) of {self.original!r}>"


Persistant = Persistent  # Twisted's old spelling, kept so that ports are renames


def _hint(message: str) -> str:
    if TAC_MODULE in message:
        return (
            "; classes and functions defined in a .tac file cannot be saved: define them in"
            " a module and import it"
        )
    if "<locals>" in message or "<lambda>" in message:
        return "; classes and functions must be defined at the top level of a module"
    return ""


def _writeAtomically(filename: str, data: bytes) -> None:
    """Replace ``filename`` with ``data`` so that readers see the old or the new file."""
    directory = os.path.dirname(os.path.abspath(filename))
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(filename)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(temporary, stat.S_IMODE(os.stat(filename).st_mode))
        except FileNotFoundError:
            pass
        os.replace(temporary, filename)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _read(filename: str) -> bytes:
    try:
        with open(filename, "rb") as f:
            return f.read()
    except OSError as e:
        raise PersistenceError(f"cannot read {filename}: {e.strerror or e}") from None


def _plaintext(data: bytes, filename: str, passphrase: str | None) -> bytes:
    encrypted = _crypto.isEncrypted(data)
    if encrypted and passphrase is None:
        raise PassphraseRequired(f"{filename} is encrypted: give its passphrase to load it")
    if not encrypted and passphrase is not None:
        raise FormatError(
            f"{filename} is not encrypted, but a passphrase was given: load it without one"
        )
    return _crypto.decrypt(data, passphrase, filename) if passphrase is not None else data


def _oneLine(text: str) -> str:
    return " ".join(text.split())


def _text(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{filename} is not UTF-8 text (byte {e.start}): is it a .tap?") from None


def _loadPickle(data: bytes, filename: str) -> Any:
    try:
        return pickle.loads(data)
    except (pickle.UnpicklingError, EOFError) as e:
        raise FormatError(f"{filename} is not a valid pickle (.tap) file: {e}") from None


_LOADERS: dict[str, Callable[[bytes, str], Any]] = {
    "pickle": _loadPickle,
    "source": lambda data, filename: unjellyFromSource(_text(data, filename), filename),
    "xml": lambda data, filename: unjellyFromXML(data, filename),
}


def load(filename: str, style: str, passphrase: str | None = None) -> Any:
    """Load the object saved in ``filename`` in ``style`` ('pickle', 'source' or 'xml').

    Loading runs code (it imports and calls what the file names): load only files you
    trust. Objects of ``styles.Versioned`` classes are upgraded before this returns, and
    if the object adapts to ``IPersistable`` its style is set to ``style``, so that it
    is saved again in the form it came in.

    Raises:
        PassphraseRequired: the file is encrypted and no passphrase was given.
        DecryptionError: the passphrase is wrong, or the file was modified.
        FormatError: the file is not what ``style`` says.
        PersistenceError: the file cannot be read, or rebuilding the objects failed.
    """
    if style == "python":
        raise ValueError(
            f"{filename} is a Python file: use loadValueFromFile(filename, 'application')"
        )
    _checkStyle(style)
    data = _plaintext(_read(filename), filename, passphrase)
    try:
        value = _LOADERS[style](data, filename)
        styles.doUpgrade()
    except PersistenceError:
        raise
    except Exception as e:
        raise PersistenceError(
            f"cannot load {filename}: {type(e).__name__}: {_oneLine(str(e))}"
        ) from e
    finally:
        styles.versionedsToUpgrade.clear()
    persistable = IPersistable(value, None)
    if persistable is not None:
        persistable.setStyle(style)
    return value


def loadValueFromFile(filename: str, variable: str, passphrase: str | None = None) -> Any:
    """Run the Python file ``filename`` (a .tac) and return the value of its ``variable``.

    The file runs in a fresh namespace with ``__file__`` set, as a program: run only
    files you trust.

    Raises:
        PersistenceError: the file cannot be read, has a syntax error, raises an
            exception, or does not set ``variable``; the message names the file and
            the line.
    """
    data = _plaintext(_read(filename), filename, passphrase)
    try:
        code = compile(data, filename, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise PersistenceError(f"{filename}, line {e.lineno}: {e.msg}") from None
    except ValueError as e:
        raise PersistenceError(f"{filename} is not Python source: {e}") from None
    namespace: dict[str, Any] = {"__file__": filename, "__name__": TAC_MODULE}
    try:
        exec(code, namespace)
    except Exception as e:
        line = _lineIn(e, filename)
        where = f"{filename}, line {line}" if line is not None else filename
        raise PersistenceError(f"{where}: {type(e).__name__}: {_oneLine(str(e))}") from e
    if variable not in namespace:
        hint = (
            " (a .tac file sets application = service.Application(name))"
            if variable == "application"
            else ""
        )
        raise PersistenceError(f"{filename} does not define {variable!r}{hint}")
    return namespace[variable]


def _lineIn(error: BaseException, filename: str) -> int | None:
    """The line of ``filename`` that was running when ``error`` was raised."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def guessType(filename: str) -> str:
    """Return the style of ``filename`` from its extension ('python', 'pickle', ...).

    Raises:
        ValueError: the extension is none of .tac, .py, .tap, .tas, .tax and their
            encrypted forms .etac, .etap, .etas, .etax.
    """
    ext = os.path.splitext(filename)[1]
    try:
        return _TYPES[ext]
    except KeyError:
        raise ValueError(
            f"cannot tell the format of {filename} from its extension; expected one of"
            f" {', '.join(_TYPES)}"
        ) from None
