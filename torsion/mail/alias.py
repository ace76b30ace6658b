"""Aliases: mail to a local name that goes somewhere else (Twisted's names).

An alias file has lines ``name: target, target, ...`` (a line starting with space or
tab continues the previous one; ``#`` starts a comment), as sendmail's aliases(5).
Each target is:

- an address (``bob`` in the same domain, or ``bob@other.example``): an AddressAlias;
- ``/path/to/file``: a FileAlias, the message appended to that file in mbox form;
- ``|/path/to/program args``: a ProcessAlias, the message given to the program on its
  standard input (it must exit with 0 within ``completionTimeout`` seconds, or the
  delivery fails and the sender is told to try later);
- ``:include:/path/to/file``: the targets listed in that file.

A name with several targets is an AliasGroup. ``loadAliasFile(domains, filename)``
reads a file into ``{name: alias}``; ``MailService.setAliases`` gives the map to the
domains. Aliases may point to aliases; a loop (``a: b`` and ``b: a``) is refused
when a message is addressed to it (550, and an error in the log naming the loop),
and a target reached twice gets one copy. An alias file runs programs as the
server's user: load only a file you control.
Tests: tests/mail/test_alias.py.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from zope.interface import Interface, implementer

from torsion.internet import defer, error
from torsion.internet.protocol import ProcessProtocol
from torsion.logger import Logger
from torsion.mail import smtp
from torsion.python.failure import Failure

__all__ = [
    "AddressAlias",
    "AliasBase",
    "AliasGroup",
    "AliasLoopError",
    "FileAlias",
    "FileWrapper",
    "IAlias",
    "MessageWrapper",
    "MultiWrapper",
    "ProcessAlias",
    "ProcessAliasProtocol",
    "ProcessAliasTimeout",
    "handle",
    "loadAliasFile",
]

_log = Logger(namespace="torsion.mail.alias")

# The most targets one recipient may expand to, and how deep aliases may nest.
MAX_TARGETS = 100
MAX_DEPTH = 20


class IAlias(Interface):
    """Where mail to a local name really goes."""

    def createMessageReceiver() -> Any:
        """An IMessage that delivers one message to this alias's targets."""


class AliasLoopError(smtp.SMTPBadRcpt):
    """The aliases of a recipient lead back to themselves (or too deep, or too wide)."""


class ProcessAliasTimeout(Exception):
    """A process alias's program did not finish in time."""


Target = Callable[[], Any]
_Targets = list[tuple[str, Target]]
Here = tuple[bytes, Any]


class AliasBase:
    """What every alias has: the service's domains and the address it stands for."""

    def __init__(self, domains: Any, original: bytes | str) -> None:
        self.domains = domains
        self.original = smtp.Address(original)

    def domain(self) -> Any:
        return self.domains[self.original.domain]

    def exists(self, user: Any, memo: Any = None) -> Any:
        return lambda: self.createMessageReceiver()

    def targets(self, aliasmap: dict[bytes, Any], path: tuple[str, ...], here: Here) -> _Targets:
        """The final destinations, as (a key naming each, a factory of its IMessage).

        Args:
            aliasmap: the aliases, to follow an alias to another.
            path: the keys of the addresses followed to get here (to refuse loops).
            here: (name, IDomain) of the domain the original recipient is in, where an
                address without a domain is looked up.

        Raises:
            AliasLoopError: a loop, or too deep or too many targets.
            smtp.SMTPBadRcpt: a target address does not exist.
        """
        raise NotImplementedError

    def _here(self) -> Here:
        return (self.original.domain, self.domains[self.original.domain])

    def resolve(self, aliasmap: dict[bytes, Any], memo: Any = None) -> Any:
        """An IMessage for all the final targets (Twisted's name), or None."""
        found = self.targets(aliasmap, (), self._here())
        if not found:
            return None
        return MultiWrapper([make() for _, make in found])

    def createMessageReceiver(self) -> Any:
        return MultiWrapper([make() for _, make in self.targets({}, (), self._here())])


@implementer(IAlias)
class AddressAlias(AliasBase):
    """An alias to another address: a user (or alias) of a local domain."""

    def __init__(self, alias: bytes | str, *args: Any) -> None:
        super().__init__(*args)
        self.alias = smtp.Address(alias)

    def __str__(self) -> str:
        return f"<Address {self.alias}>"

    def targets(self, aliasmap: dict[bytes, Any], path: tuple[str, ...], here: Here) -> _Targets:
        if self.alias.domain:
            name, domain = self.alias.domain.lower(), self.domains[self.alias.domain]
        else:
            name, domain = here
        local = self.alias.local
        key = (local + b"@" + name).decode("utf-8", "replace").lower()
        if key in path:
            raise AliasLoopError(
                self.original, 550, f"5.4.6 Alias loop: {' -> '.join((*path, key))}".encode()
            )
        if len(path) >= MAX_DEPTH:
            raise AliasLoopError(self.original, 550, b"5.4.6 Aliases nest too deep")
        user = smtp.User(smtp.Address(local + b"@" + name), None, None, None)
        userDirectory = getattr(domain, "userDirectory", None)
        if userDirectory is not None and userDirectory(local) is not None:
            return [(key, lambda: domain.startMessage(user))]
        nested = aliasmap.get(local.lower())
        if nested is not None and getattr(domain, "alias", None) is aliasmap:
            return list(nested.targets(aliasmap, (*path, key), (name, domain)))
        return [(key, domain.exists(user))]


@implementer(smtp.IMessage)
class FileWrapper:
    """An IMessage appended to a file (mbox form: a ``From `` line, ``>From`` quoting)
    once complete; kept in a temporary file until then."""

    def __init__(self, filename: str, sender: bytes = b"MAILER-DAEMON") -> None:
        self.finalname = filename
        self.sender = sender
        self.fp: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed at the end)

    def lineReceived(self, line: bytes) -> None:
        stripped = line.lstrip(b">")
        if stripped.startswith(b"From "):
            line = b">" + line
        self.fp.write(line + b"\n")

    def eomReceived(self) -> defer.Deferred[str]:
        self.fp.seek(0)
        try:
            fd = os.open(self.finalname, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "ab") as f:
                f.write(b"From %s %s\n" % (self.sender, time.asctime().encode("ascii")))
                while chunk := self.fp.read(65536):
                    f.write(chunk)
                f.write(b"\n")
        except OSError as e:
            self.fp.close()
            _log.error(
                "appending a message to {file} failed: {error}", file=self.finalname, error=e
            )
            return defer.fail(smtp.SMTPServerError(451, b"4.3.0 Cannot store the message now"))
        self.fp.close()
        return defer.succeed(self.finalname)

    def connectionLost(self) -> None:
        self.fp.close()

    def __str__(self) -> str:
        return f"<FileWrapper {self.finalname}>"


@implementer(IAlias)
class FileAlias(AliasBase):
    """An alias to a file the messages are appended to."""

    def __init__(self, filename: str, *args: Any) -> None:
        super().__init__(*args)
        self.filename = filename

    def __str__(self) -> str:
        return f"<File {self.filename}>"

    def targets(self, aliasmap: dict[bytes, Any], path: tuple[str, ...], here: Here) -> _Targets:
        return [("file:" + self.filename, lambda: FileWrapper(self.filename))]


class ProcessAliasProtocol(ProcessProtocol):
    """Watches a process alias's program: its exit, and what it says on stderr."""

    def __init__(self) -> None:
        self.ended: defer.Deferred[int] = defer.Deferred()
        self.errors = b""

    def errReceived(self, data: bytes) -> None:
        self.errors = (self.errors + data)[-2000:]

    def outReceived(self, data: bytes) -> None:
        pass

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        signal = getattr(reason.value, "signal", None)
        if self.ended.called:
            return
        if isinstance(reason.value, error.ProcessDone) or code == 0:
            self.ended.callback(0)
        else:
            self.ended.errback(
                Failure(RuntimeError(f"exit code {code}, signal {signal}: {self.errors[-300:]!r}"))
            )


@implementer(smtp.IMessage)
class MessageWrapper:
    """An IMessage given to a running program's standard input (a process alias)."""

    completionTimeout = 60
    done = False

    def __init__(
        self, protocol: ProcessAliasProtocol, processName: str, reactor: Any = None
    ) -> None:
        self.processName = processName
        self.protocol = protocol
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self.reactor = reactor

    def lineReceived(self, line: bytes) -> None:
        if not self.done:
            self.protocol.transport.write(line + b"\n")

    def eomReceived(self) -> defer.Deferred[Any]:
        if self.done:
            return defer.fail(smtp.SMTPServerError(451, b"4.3.0 The delivery program failed"))
        self.done = True
        self.protocol.transport.closeStdin()
        ended = self.protocol.ended

        def timedOut() -> None:
            if not ended.called:
                try:
                    self.protocol.transport.signalProcess("KILL")
                except Exception:
                    pass
                ended.errback(Failure(ProcessAliasTimeout(f"{self.processName} ran too long")))

        call = self.reactor.callLater(self.completionTimeout, timedOut)

        def finished(result: Any) -> Any:
            if call.active():
                call.cancel()
            if isinstance(result, Failure):
                _log.error(
                    "the delivery program {name} failed: {why}",
                    name=self.processName,
                    why=result.getErrorMessage(),
                )
                raise smtp.SMTPServerError(451, b"4.3.0 The delivery program failed")
            return self.processName

        return ended.addBoth(finished)

    def connectionLost(self) -> None:
        if not self.done:
            self.done = True
            try:
                self.protocol.transport.signalProcess("KILL")
            except Exception:
                pass

    def __str__(self) -> str:
        return f"<ProcessWrapper {self.processName}>"


@implementer(IAlias)
class ProcessAlias(AliasBase):
    """An alias to a program given each message on its standard input.

    Args:
        path: the command line (the program and its arguments, shell-like quoting).
    """

    reactor: Any = None

    def __init__(self, path: str, *args: Any) -> None:
        super().__init__(*args)
        self.path = path
        self.program = shlex.split(path)
        if not self.program:
            raise ValueError("a process alias needs a program: |/path/to/program")

    def __str__(self) -> str:
        return f"<Process {self.path}>"

    def spawnProcess(self, protocol: ProcessAliasProtocol, program: str) -> Any:
        reactor = self.reactor
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        return reactor.spawnProcess(protocol, program, self.program, env=_processEnvironment())

    def createMessageReceiver(self) -> MessageWrapper:
        protocol = ProcessAliasProtocol()
        self.spawnProcess(protocol, self.program[0])
        return MessageWrapper(protocol, self.program[0], self.reactor)

    def targets(self, aliasmap: dict[bytes, Any], path: tuple[str, ...], here: Here) -> _Targets:
        return [("process:" + self.path, self.createMessageReceiver)]


def _processEnvironment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
    return {name: os.environ[name] for name in keep if name in os.environ}


@implementer(smtp.IMessage)
class MultiWrapper:
    """One IMessage fed to several (each target of a group)."""

    def __init__(self, objs: Iterable[Any]) -> None:
        self.objs = list(objs)

    def lineReceived(self, line: bytes) -> None:
        for o in self.objs:
            o.lineReceived(line)

    def eomReceived(self) -> defer.Deferred[Any]:
        def firstFailure(reason: Failure) -> Failure:
            sub: Failure = getattr(reason.value, "subFailure", reason)
            return sub

        d: defer.Deferred[Any] = defer.DeferredList(
            [defer.maybeDeferred(o.eomReceived) for o in self.objs],
            fireOnOneErrback=True,
            consumeErrors=True,
        )
        return d.addErrback(firstFailure)

    def connectionLost(self) -> None:
        for o in self.objs:
            o.connectionLost()

    def __str__(self) -> str:
        return f"<MultiWrapper {', '.join(map(str, self.objs))}>"


@implementer(IAlias)
class AliasGroup(AliasBase):
    """An alias with several targets (addresses, files, programs, included files)."""

    processAliasFactory = ProcessAlias

    def __init__(self, items: Iterable[str], *args: Any) -> None:
        super().__init__(*args)
        self.aliases: list[AliasBase] = []
        pending = [item.strip() for item in items]
        includes = 0
        while pending:
            item = pending.pop(0)
            if not item:
                continue
            if item.startswith("|"):
                self.aliases.append(self.processAliasFactory(item[1:].strip(), *args))
            elif item.startswith(":include:") or item.startswith(":"):
                name = item[len(":include:") :] if item.startswith(":include:") else item[1:]
                includes += 1
                if includes > MAX_DEPTH:
                    raise ValueError(f"too many :include: files in the alias {self.original}")
                try:
                    with open(name.strip(), encoding="utf-8") as f:
                        pending.extend(_splitTargets(" ".join(f.read().splitlines())))
                except OSError as e:
                    _log.error(
                        "the alias include file {name} cannot be read: {error}",
                        name=name.strip(),
                        error=e,
                    )
            elif item.startswith("/"):
                if os.path.isdir(item):
                    _log.error("the alias target {item} is a directory, not a file", item=item)
                else:
                    self.aliases.append(FileAlias(item, *args))
            else:
                self.aliases.append(AddressAlias(item, *args))

    def __len__(self) -> int:
        return len(self.aliases)

    def __str__(self) -> str:
        return f"<AliasGroup [{', '.join(map(str, self.aliases))}]>"

    def targets(self, aliasmap: dict[bytes, Any], path: tuple[str, ...], here: Here) -> _Targets:
        found: _Targets = []
        seen: set[str] = set()
        for alias in self.aliases:
            for key, make in alias.targets(aliasmap, path, here):
                if key not in seen:
                    seen.add(key)
                    found.append((key, make))
                    if len(found) > MAX_TARGETS:
                        raise AliasLoopError(
                            self.original, 550, b"5.4.6 The alias has too many targets"
                        )
        return found


def _splitTargets(text: str) -> list[str]:
    """Split on commas outside double quotes (a program may have commas in it)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def handle(result: dict[str, list[str]], line: str, filename: str, lineNo: int) -> None:
    """Parse one logical line of an alias file into ``result`` (name -> targets)."""
    name, colon, rest = line.partition(":")
    name = name.strip().lower()
    if not colon or not name or " " in name:
        _log.warn(
            "{file}:{line}: not an alias (expected 'name: target, ...'); ignored",
            file=filename,
            line=lineNo,
        )
        return
    result.setdefault(name, []).extend(_splitTargets(rest))


def loadAliasFile(
    domains: Any, filename: str | None = None, fp: IO[str] | None = None
) -> dict[bytes, AliasGroup]:
    """Read an alias file into a map of local name -> AliasGroup.

    Raises:
        OSError: the file cannot be read (the message names it).
    """
    if fp is None:
        if filename is None:
            raise ValueError("loadAliasFile needs a filename or an open file")
        with open(filename, encoding="utf-8") as f:
            lines = f.read().splitlines()
        where = filename
    else:
        where = filename or str(getattr(fp, "name", "<alias file>"))
        lines = fp.read().splitlines()
    entries: dict[str, list[str]] = {}
    logical, start = "", 0
    for number, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("|") else raw
        if raw.lstrip().startswith("#"):
            continue
        if text[:1] in (" ", "\t") and logical:
            logical += " " + text.strip()
            continue
        if logical:
            handle(entries, logical, where, start)
        logical, start = text.strip(), number
    if logical:
        handle(entries, logical, where, start)
    result: dict[bytes, AliasGroup] = {}
    for name, targets in entries.items():
        result[name.encode("utf-8")] = AliasGroup(targets, domains, name)
    return result
