"""Command-line parsing by subclassing: ``usage.Options``, as torsiond and its plugins use.

An ``Options`` subclass declares what it accepts and is then a dict of the results::

    class Options(usage.Options):
        optFlags = [["verbose", "v", "Say what is going on."]]
        optParameters = [["port", "p", 8007, "The port to listen on.", usage.portCoerce]]

    config = Options()
    config.parseOptions(["-v", "--port", "8080"])
    config["verbose"], config["port"]  # 1, 8080

- ``optFlags``: ``[long, short, doc]``; the key is 0, or 1 once the flag is given.
- ``optParameters``: ``[long, short, default, doc, coerce]`` (doc and coerce optional);
  ``coerce`` turns the text into the value, and a ValueError it raises becomes a
  UsageError naming the option. Defaults are not coerced.
- ``opt_NAME`` methods: called for ``--NAME`` (with the value, if the method takes
  one); ``opt_v = opt_verbose`` makes ``-v`` a synonym. The docstring is the help.
- ``subCommands``: ``[name, shortcut, parserClass, doc]``; the first argument that is
  not an option picks one, and the rest of the command line goes to a new
  ``parserClass()`` (``self.subCommand``, ``self.subOptions``; its ``parent`` is this
  object). ``defaultSubCommand`` is used when no argument is left.
- ``parseArgs(*args)``: takes the arguments left over (none, by default);
  ``postOptions()`` checks the whole after parsing.

Long names may be typed with dashes or underscores (``--no-save`` or ``--no_save``),
and a long option may be abbreviated to any unique prefix. Options stop at the first
argument that is not one (so ``torsiond -n echo --port 1`` gives ``--port`` to the
echo plugin). ``--help`` prints ``str(options)`` (synopsis, options, ``longdesc``,
commands) and exits 0; ``--version`` prints the program and torsion's version.

Options are collected through the class hierarchy, so a subclass adds to its bases'.
Tests: tests/python/test_usage.py.
"""

from __future__ import annotations

import inspect
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["Options", "UsageError", "countCoerce", "error", "portCoerce"]


class UsageError(Exception):
    """The command line is wrong; the message says how (scripts print it and exit 2)."""


error = UsageError


def portCoerce(value: str) -> int:
    """Return ``value`` as a TCP/UDP port number (0 to 65535).

    Raises:
        ValueError: it is not a number in that range.
    """
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port number {port} is not between 0 and 65535")
    return port


portCoerce.coerceDoc = "Must be an int between 0 and 65535."  # type: ignore[attr-defined]


def countCoerce(things: str, thing: str) -> Callable[[str], int]:
    """Return a coerce function for an option that counts ``things`` (at least one).

    ``countCoerce("threads", "thread")`` reads ``"20"`` as 20 and refuses ``"x"`` ("'x'
    is not a number of threads") and ``"0"`` ("at least one thread is needed, not 0").
    """

    def coerce(value: str) -> int:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number of {things}") from None
        if count < 1:
            raise ValueError(f"at least one {thing} is needed, not {count}")
        return count

    coerce.coerceDoc = f"A number of {things}, at least 1."  # type: ignore[attr-defined]
    return coerce


def _key(name: str) -> str:
    """The form of a long name that lookups use: dashes and underscores are the same."""
    return name.replace("-", "_")


def programName() -> str:
    """The name of the running program, for synopses: ``torsiond``, not ``torsiond.py``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if name == "__main__.py":
        name = os.path.basename(os.path.dirname(sys.argv[0])) or name
    return name[:-3] if name.endswith(".py") else name


class _Option:
    """One option: its names, whether it takes a value, its help, and its handler."""

    __slots__ = ("coerceDoc", "default", "doc", "handler", "long", "short", "takesValue")

    def __init__(
        self,
        long: str | None,
        short: str | None,
        takesValue: bool,
        doc: str | None,
        default: Any,
        handler: Callable[[str | None], None],
        coerceDoc: str | None = None,
    ) -> None:
        self.long = long
        self.short = short
        self.takesValue = takesValue
        self.doc = doc
        self.default = default
        self.handler = handler
        self.coerceDoc = coerceDoc


class _Method:
    """An ``opt_`` method and the names it was found under (``opt_v = opt_verbose``)."""

    __slots__ = ("function", "longs", "shorts")

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.longs: list[str] = []
        self.shorts: list[str] = []

    @property
    def takesValue(self) -> bool:
        return len(inspect.signature(self.function).parameters) > 1


def _accumulated(cls: type, attribute: str) -> list[Sequence[Any]]:
    """The entries of ``attribute`` from every class of the MRO, bases first."""
    entries: list[Sequence[Any]] = []
    for klass in reversed(cls.__mro__):
        entries.extend(klass.__dict__.get(attribute, ()))
    return entries


def _docOf(function: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(function)
    if not doc:
        return None
    return " ".join(doc.split("\n\n", 1)[0].split())


class Options(dict[str, Any]):
    """The parser and the parsed options in one: subclass it, then ``parseOptions()``.

    Attributes:
        subCommand: the name of the sub-command given, or None.
        subOptions: the sub-command's parsed Options, or None.
        parent: for sub-command options, the Options that dispatched to them.
        synopsis: replaces the generated "Usage: prog [options]" line.
        longdesc: a paragraph printed after the options in ``--help``.
        defaults, docs: each option's default value and help text, by name.
    """

    optFlags: Sequence[Sequence[Any]] = []
    optParameters: Sequence[Sequence[Any]] = []
    subCommands: Any = None
    defaultSubCommand: str | None = None
    parent: Options | None = None
    synopsis: str | None = None
    longdesc: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.opts = self
        self.subCommand: str | None = None
        self.subOptions: Options | None = None
        self.defaults: dict[str, Any] = {}
        self.docs: dict[str, str | None] = {}
        # Every option once (for help), and every spelling of every option (to parse).
        self._shown: dict[str, _Option] = {}
        self._byName: dict[str, _Option] = {}
        self._gather()
        self.shortOpt = ""
        self.longOpt: list[str] = []
        for name, option in self._byName.items():
            suffix = "=" if option.takesValue else ""
            if len(name) == 1:
                self.shortOpt += name + (":" if option.takesValue else "")
            else:
                spellings = {name, name.replace("_", "-")}
                self.longOpt.extend(sorted(s + suffix for s in spellings))

    # A dict is unhashable; an Options is hashable by identity, as Twisted's is.
    __hash__ = object.__hash__  # type: ignore[assignment]

    # -- declaring ------------------------------------------------------------------

    def _gather(self) -> None:
        methods = self._methods()
        byLong = {_key(name): method for method in methods for name in method.longs}
        for entry in _accumulated(type(self), "optFlags"):
            long, short, doc = [*entry, None, None][:3]
            handler = self._handlerFor(byLong.pop(_key(long), None), methods)
            self._declare(long, short, False, doc, 0, handler or self._flagHandler(long))
        for entry in _accumulated(type(self), "optParameters"):
            long, short, default, doc, coerce = [*entry, None, None, None, None][:5]
            handler = self._handlerFor(byLong.pop(_key(long), None), methods)
            self._declare(
                long,
                short,
                True,
                doc,
                default,
                handler or self._parameterHandler(long, coerce),
                getattr(coerce, "coerceDoc", None),
            )
        for method in methods:
            self._declareMethod(method)

    def _methods(self) -> list[_Method]:
        """The ``opt_`` methods of the class, synonyms grouped, longest name first."""
        found: dict[Any, _Method] = {}
        for name in dir(type(self)):
            function = getattr(type(self), name, None)
            if not name.startswith("opt_") or not callable(function):
                continue
            method = found.setdefault(function, _Method(function))
            (method.shorts if len(name) == 5 else method.longs).append(name[4:])
        for method in found.values():
            method.longs.sort(key=lambda n: (-len(n), n))
        return list(found.values())

    def _handlerFor(
        self, method: _Method | None, methods: list[_Method]
    ) -> Callable[[str | None], None] | None:
        """The handler of an ``opt_`` method that a declared option of its name uses."""
        if method is None:
            return None
        methods.remove(method)
        return self._methodHandler(getattr(self, "opt_" + method.longs[0]), method.takesValue)

    def _declare(
        self,
        long: str,
        short: str | None,
        takesValue: bool,
        doc: str | None,
        default: Any,
        handler: Callable[[str | None], None],
        coerceDoc: str | None = None,
    ) -> None:
        self[long] = default
        self.defaults[long] = default
        self.docs[long] = doc
        option = _Option(long, short, takesValue, doc, default, handler, coerceDoc)
        self._shown[_key(long)] = option
        self._byName[_key(long)] = option
        if short:
            self._byName[short] = option

    def _declareMethod(self, method: _Method) -> None:
        name = method.longs[0] if method.longs else method.shorts[0]
        bound = getattr(self, "opt_" + name)
        long = name.replace("_", "-") if method.longs else None
        option = _Option(
            long,
            method.shorts[0] if method.shorts else None,
            method.takesValue,
            _docOf(method.function),
            None,
            self._methodHandler(bound, method.takesValue),
        )
        self._shown[_key(name)] = option
        if long is not None:
            self.docs[long] = option.doc
        for synonym in method.longs:
            self._byName[_key(synonym)] = option
        for short in method.shorts:
            self._byName[short] = option

    def _flagHandler(self, key: str) -> Callable[[str | None], None]:
        def setFlag(value: str | None) -> None:
            self[key] = 1

        return setFlag

    def _parameterHandler(
        self, key: str, coerce: Callable[[str], Any] | None
    ) -> Callable[[str | None], None]:
        def setParameter(value: str | None) -> None:
            assert value is not None
            if coerce is None:
                self[key] = value
                return
            try:
                self[key] = coerce(value)
            except ValueError as e:
                raise UsageError(f"invalid value {value!r} for --{key}: {e}") from None

        return setParameter

    @staticmethod
    def _methodHandler(
        method: Callable[..., None], takesValue: bool
    ) -> Callable[[str | None], None]:
        def callMethod(value: str | None) -> None:
            if takesValue:
                method(value)
            else:
                method()

        return callMethod

    # -- parsing --------------------------------------------------------------------

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """Parse ``options`` (default: ``sys.argv[1:]``) into this dict.

        Raises:
            UsageError: an unknown option, a missing or bad value, the wrong number of
                arguments, an unknown sub-command, or what ``postOptions`` refuses.
        """
        if options is None:
            options = sys.argv[1:]
        for option, value in self._split(list(options)):
            option.handler(value)
        args = self._arguments
        commands = self._subCommandTable()
        if commands:
            self._dispatchSubCommand(commands, args)
        else:
            self._parseArguments(args)
        self.postOptions()

    def _split(self, words: list[str]) -> Iterable[tuple[_Option, str | None]]:
        """Yield each option given with its value; leave the arguments in ``_arguments``.

        Options end at ``--`` or at the first word that is not an option.
        """
        self._arguments: list[str] = []
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word == "--":
                self._arguments = words[index:]
                return
            if word.startswith("--"):
                name, equals, value = word[2:].partition("=")
                option = self._longOption(name)
                if option.takesValue:
                    if not equals:
                        if index == len(words):
                            raise UsageError(f"option --{option.long} needs a value")
                        value = words[index]
                        index += 1
                    yield option, value
                elif equals:
                    raise UsageError(f"option --{option.long} takes no value")
                else:
                    yield option, None
            elif word.startswith("-") and word != "-":
                letters = word[1:]
                for position, letter in enumerate(letters):
                    found = self._byName.get(letter) if letter != "-" else None
                    if found is None:
                        raise UsageError(f"unknown option -{letter}")
                    if not found.takesValue:
                        yield found, None
                        continue
                    value = letters[position + 1 :]
                    if not value:
                        if index == len(words):
                            raise UsageError(f"option -{letter} needs a value")
                        value = words[index]
                        index += 1
                    yield found, value
                    break
            else:
                self._arguments = words[index - 1 :]
                return

    def _longOption(self, name: str) -> _Option:
        """The option that ``--name`` (or a unique abbreviation of it) stands for."""
        key = _key(name)
        exact = self._byName.get(key) if len(key) > 1 else None
        if exact is not None:
            return exact
        candidates = {
            id(option): option
            for spelling, option in self._byName.items()
            if len(spelling) > 1 and spelling.startswith(key) and key
        }
        if not candidates:
            raise UsageError(f"unknown option --{name}")
        if len(candidates) > 1:
            spelled = ", ".join(sorted(f"--{o.long}" for o in candidates.values()))
            raise UsageError(f"option --{name} is ambiguous: it could be {spelled}")
        return next(iter(candidates.values()))

    def _subCommandTable(self) -> list[Sequence[Any]]:
        return list(self.subCommands or ())

    def _dispatchSubCommand(self, commands: list[Sequence[Any]], args: list[str]) -> None:
        if args:
            name, rest = args[0], args[1:]
        elif self.defaultSubCommand is not None:
            name, rest = self.defaultSubCommand, []
        else:
            self._parseArguments([])
            return
        for command, shortcut, parserClass, _doc in commands:
            if name == command or (shortcut is not None and name == shortcut):
                self.subCommand = command
                self.subOptions = parserClass()
                self.subOptions.parent = self
                self.subOptions.parseOptions(rest)
                return
        known = ", ".join(str(c[0]) for c in commands)
        raise UsageError(f"unknown command: {name} (the commands are: {known})")

    def _parseArguments(self, args: list[str]) -> None:
        try:
            inspect.signature(self.parseArgs).bind(*args)
        except TypeError:
            raise UsageError(self._wrongArguments(args)) from None
        self.parseArgs(*args)

    def _wrongArguments(self, args: list[str]) -> str:
        if not args:
            return "wrong number of arguments: some are missing"
        return f"wrong number of arguments: {' '.join(args)!r}"

    def parseArgs(self, *args: str) -> None:
        """Take the arguments that follow the options; by default there must be none.

        Raises:
            UsageError: there are arguments (the default takes none).
        """
        if args:
            raise UsageError(self._wrongArguments(list(args)))

    def postOptions(self) -> None:
        """Check or complete the parsed options as a whole; raise UsageError to refuse."""

    # -- the built-in options -------------------------------------------------------

    def opt_help(self) -> None:
        """Display this help and exit."""
        print(str(self))
        sys.exit(0)

    def opt_version(self) -> None:
        """Display the version and exit."""
        from torsion import __version__

        print(f"{programName()} (torsion) {__version__}")
        sys.exit(0)

    # -- help -----------------------------------------------------------------------

    def getSynopsis(self) -> str:
        """Return the "Usage: ..." line.

        A sub-command's line is its parent's, up to the parent's first placeholder
        (COMMAND, PLUGIN...), then the sub-command's name and its own ``synopsis``; a
        ``synopsis`` that starts with "Usage:" is the whole line already.
        """
        if self.synopsis is not None:
            own = self.synopsis.rstrip()
            if own.startswith("Usage:"):
                return own
        elif self.parent is None:
            own = f"Usage: {programName()}" + (" [options]" if self._shown else "")
        else:
            own = "[options]" if self._shown else ""
        if self.parent is None:
            return own
        prefix = _beforePlaceholder(self.parent.getSynopsis())
        return " ".join(part for part in (prefix, self.parent.subCommand or "", own) if part)

    def getUsage(self, width: int | None = None) -> str:
        """Return the help below the synopsis: the options, ``longdesc``, the commands."""
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) or 80
            except ValueError:
                width = 80
        width = max(width, 40)
        sections: list[str] = []
        rows = [self._optionRow(o) for o in sorted(self._shown.values(), key=_sortKey)]
        if rows:
            sections.append("Options:\n" + _table(rows, width))
        if self.longdesc:
            sections.append(textwrap.fill(" ".join(self.longdesc.split()), width))
        commands = self._subCommandTable()
        if commands:
            commandRows = [
                (f"{c[0]}" + (f" ({c[1]})" if c[1] else ""), str(c[3] or "")) for c in commands
            ]
            sections.append("Commands:\n" + _table(commandRows, width))
        return "\n\n".join(sections) + "\n"

    def _optionRow(self, option: _Option) -> tuple[str, str]:
        names = []
        if option.short:
            names.append(f"-{option.short}")
        if option.long:
            names.append(f"--{option.long}" + ("=" if option.takesValue else ""))
        doc = option.doc or ""
        if option.takesValue and option.default is not None:
            doc = f"{doc} [default: {option.default}]".strip()
        if option.coerceDoc:
            doc = f"{doc}. {option.coerceDoc}" if doc else option.coerceDoc
        return ", ".join(names), doc

    def __str__(self) -> str:
        return self.getSynopsis() + "\n" + self.getUsage()


def _beforePlaceholder(synopsis: str) -> str:
    """The words of ``synopsis`` before the first upper-case placeholder (COMMAND...)."""
    kept = []
    for word in synopsis.split():
        letters = word.strip("[]()|.")
        if len(letters) > 1 and letters.isupper():
            break
        kept.append(word)
    return " ".join(kept)


def _sortKey(option: _Option) -> str:
    return (option.long or option.short or "").lower()


def _table(rows: Iterable[tuple[str, str]], width: int) -> str:
    rows = list(rows)
    left = min(max(len(name) for name, _ in rows) + 2, 32)
    lines = []
    for name, doc in rows:
        indent = " " * (left + 2)
        if len(name) + 2 > left:
            lines.append(f"  {name}")
            if doc:
                lines.extend(
                    textwrap.wrap(
                        doc,
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
            continue
        first = f"  {name:<{left}}"
        wrapped = textwrap.wrap(
            doc, width, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False
        )
        lines.extend(wrapped or [first.rstrip()])
    return "\n".join(lines)
