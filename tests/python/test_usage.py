"""torsion.python.usage.Options: flags, parameters, opt_ methods, sub-commands, help."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.python import usage


class Listen(usage.Options):
    optParameters = [["listen", "l", "tcp:8007", "Where to listen."]]


class Serve(usage.Options):
    optFlags = [
        ["nodaemon", "n", "Stay in the foreground."],
        ["no_save", "o", "Do not save."],
        ["quiet", None, "Say little."],
    ]
    optParameters = [
        ["port", "p", 8007, "The port.", usage.portCoerce],
        ["logfile", "l", None, "The log file."],
        ["name", None, "torsion"],
    ]
    subCommands = [["echo", "e", Listen, "An echo server."]]

    def __init__(self) -> None:
        super().__init__()
        self["verbosity"] = 0
        self["defines"] = []

    def opt_verbose(self) -> None:
        """Say more (give it again for even more).

        This second paragraph is not in the help.
        """
        self["verbosity"] += 1

    opt_v = opt_verbose

    def opt_define(self, symbol: str) -> None:
        """Define a symbol."""
        self["defines"].append(symbol)

    opt_D = opt_define

    def opt_help_things(self) -> None:
        """List the things."""
        self["things"] = True


def parsed(options: usage.Options, *words: str) -> usage.Options:
    options.parseOptions(list(words))
    return options


def test_flagsAreZeroUntilGivenThenOne() -> None:
    options = parsed(Serve(), "-n")
    assert options["nodaemon"] == 1
    assert options["no_save"] == 0
    assert options["quiet"] == 0


def test_parametersHaveTheirDefaultsAndAreCoerced() -> None:
    options = parsed(Serve())
    assert options["port"] == 8007
    assert options["logfile"] is None
    assert options["name"] == "torsion"
    assert parsed(Serve(), "--port", "80")["port"] == 80
    assert parsed(Serve(), "--port=81")["port"] == 81
    assert parsed(Serve(), "-p82")["port"] == 82
    assert parsed(Serve(), "-p", "83")["port"] == 83


def test_shortFlagsCluster() -> None:
    options = parsed(Serve(), "-nop", "9")
    assert (options["nodaemon"], options["no_save"], options["port"]) == (1, 1, 9)


def test_longNamesTakeDashesOrUnderscores() -> None:
    assert parsed(Serve(), "--no-save")["no_save"] == 1
    assert parsed(Serve(), "--no_save")["no_save"] == 1
    assert parsed(Serve(), "--help_things")["things"] is True
    assert parsed(Serve(), "--help-things")["things"] is True


def test_uniqueAbbreviationsOfLongOptions() -> None:
    assert parsed(Serve(), "--nod")["nodaemon"] == 1
    assert parsed(Serve(), "--log", "x")["logfile"] == "x"
    ambiguous = r"--no is ambiguous: it could be --no_save, --nodaemon"
    with pytest.raises(usage.UsageError, match=ambiguous):
        parsed(Serve(), "--no")


def test_optMethodsAndTheirSynonyms() -> None:
    options = parsed(Serve(), "-v", "--verbose", "-vv", "-DA", "--define", "B", "-D", "C")
    assert options["verbosity"] == 4
    assert options["defines"] == ["A", "B", "C"]


def test_badValuesAreUsageErrorsNamingTheOption() -> None:
    with pytest.raises(usage.UsageError, match=r"invalid value 'x' for --port: 'x' is not a port"):
        parsed(Serve(), "--port", "x")
    with pytest.raises(usage.UsageError, match="99999 is not between 0 and 65535"):
        parsed(Serve(), "-p", "99999")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["-z"], "unknown option -z"),
        (["--port"], "option --port needs a value"),
        (["-p"], "option -p needs a value"),
        (["--nodaemon=yes"], "option --nodaemon takes no value"),
        (["frobnicate"], r"unknown command: frobnicate \(the commands are: echo\)"),
    ],
)
def test_usageErrors(words: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        parsed(Serve(), *words)


def test_subCommandTakesTheRestOfTheLine() -> None:
    options = parsed(Serve(), "-n", "echo", "-l", "tcp:7")
    assert options.subCommand == "echo"
    assert isinstance(options.subOptions, Listen)
    assert options.subOptions.parent is options
    assert options.subOptions["listen"] == "tcp:7"
    # An option after the command is the command's, even one its parent knows.
    with pytest.raises(usage.UsageError, match="unknown option -n"):
        parsed(Serve(), "echo", "-n")


def test_subCommandShortcutAndDefault() -> None:
    assert parsed(Serve(), "e").subCommand == "echo"
    assert parsed(Serve()).subCommand is None

    class WithDefault(Serve):
        defaultSubCommand = "echo"

    options = parsed(WithDefault())
    assert options.subCommand == "echo"
    assert options.subOptions is not None and options.subOptions["listen"] == "tcp:8007"


def test_doubleDashEndsTheOptions() -> None:
    class Files(usage.Options):
        optFlags = [["all", "a", None]]

        def parseArgs(self, *files: str) -> None:
            self["files"] = files

    options = parsed(Files(), "-a", "--", "-a", "--all")
    assert options["all"] == 1
    assert options["files"] == ("-a", "--all")


def test_parseArgsArity() -> None:
    class Compare(usage.Options):
        def parseArgs(self, origin: str, changed: str) -> None:
            self["pair"] = (origin, changed)

    assert parsed(Compare(), "a", "b")["pair"] == ("a", "b")
    with pytest.raises(usage.UsageError, match="wrong number of arguments: 'a'"):
        parsed(Compare(), "a")
    with pytest.raises(usage.UsageError, match="wrong number of arguments: some are missing"):
        parsed(Compare())
    with pytest.raises(usage.UsageError, match="wrong number of arguments: 'extra'"):
        parsed(usage.Options(), "extra")


def test_aTypeErrorInsideParseArgsIsNotMistakenForArity() -> None:
    class Buggy(usage.Options):
        def parseArgs(self, *args: str) -> None:
            raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        parsed(Buggy(), "x")


def test_postOptionsCanRefuse() -> None:
    class Picky(Serve):
        def postOptions(self) -> None:
            if self["nodaemon"] and self["no_save"]:
                raise usage.UsageError("can't have both")

    parsed(Picky(), "-n")
    with pytest.raises(usage.UsageError, match="can't have both"):
        parsed(Picky(), "-n", "-o")


def test_optionsAreCollectedThroughTheHierarchy() -> None:
    class Base(usage.Options):
        optFlags = [["quiet", "q", "Be quiet."]]
        optParameters = [["level", None, "1", "A level."]]

    class Derived(Base):
        optFlags = [["fast", "f", "Go fast."]]
        optParameters = [["level", None, "2", "A higher level."]]

    options = parsed(Derived(), "-qf")
    assert (options["quiet"], options["fast"], options["level"]) == (1, 1, "2")
    assert "A higher level. [default: 2]" in str(options)


def test_optMethodOfADeclaredNameHandlesIt() -> None:
    class Counting(usage.Options):
        optParameters = [["port", "p", 0, "The port."]]

        def opt_port(self, value: str) -> None:
            self["port"] = int(value) * 2

    assert parsed(Counting(), "-p", "21")["port"] == 42


def test_anOptionsObjectIsADictAndHashable() -> None:
    options = parsed(Serve(), "-n")
    assert options.opts is options
    assert dict(options)["nodaemon"] == 1
    assert {options: 1}[options] == 1
    assert options.defaults["port"] == 8007
    assert options.docs["port"] == "The port."


def test_helpListsOptionsDefaultsCoerceDocLongdescAndCommands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["/usr/bin/serve.py"])

    class Documented(Serve):
        longdesc = "Serves   things\nto people."

    with pytest.raises(SystemExit) as exited:
        parsed(Documented(), "--help")
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: serve [options]\nOptions:\n")
    assert "  -n, --nodaemon " in out
    assert "  -p, --port=" in out
    assert "The port. [default: 8007]. Must be an int between 0 and 65535." in out
    assert "  -v, --verbose " in out and "Say more (give it again for even more)." in out
    assert "second paragraph" not in out
    assert "  --help-things " in out
    assert "Serves things to people." in out
    assert "Commands:\n  echo (e)  An echo server." in out


def test_subCommandHelpShowsTheWholeCommandLine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["serve"])

    class Top(Serve):
        synopsis = "Usage: serve [options] COMMAND [command options]"

    with pytest.raises(SystemExit):
        parsed(Top(), "-n", "echo", "--help")
    out = capsys.readouterr().out
    assert out.startswith("Usage: serve [options] echo [options]\n")
    assert "-l, --listen=" in out


def test_versionNamesProgramAndTorsion(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from torsion import __version__

    monkeypatch.setattr("sys.argv", ["/x/torsiond"])
    with pytest.raises(SystemExit) as exited:
        parsed(Serve(), "--version")
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"torsiond (torsion) {__version__}\n"


def test_helpWrapsToTheWidthAsked() -> None:
    class Wordy(usage.Options):
        optFlags = [["wordy", "w", "word " * 40]]

    text = Wordy().getUsage(width=50)
    assert all(len(line) <= 50 for line in text.splitlines())


def test_parseOptionsDefaultsToTheCommandLine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["serve", "-n", "-p", "7"])
    options: Any = Serve()
    options.parseOptions()
    assert (options["nodaemon"], options["port"]) == (1, 7)


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("80", 80), ("65535", 65535)])
def test_portCoerceAccepts(text: str, port: int) -> None:
    assert usage.portCoerce(text) == port


@pytest.mark.parametrize("text", ["-1", "65536", "http", ""])
def test_portCoerceRefuses(text: str) -> None:
    with pytest.raises(ValueError):
        usage.portCoerce(text)


def test_countCoerceReadsACountOfAtLeastOne() -> None:
    coerce = usage.countCoerce("threads", "thread")
    assert coerce("20") == 20
    assert coerce("1") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [("x", "'x' is not a number of threads"), ("0", "at least one thread is needed, not 0")],
)
def test_countCoerceRefusesWithAMessageThatNamesTheThing(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        usage.countCoerce("threads", "thread")(text)


def test_countCoerceErrorIsAUsageErrorOnTheCommandLine() -> None:
    class Pool(usage.Options):
        optParameters = [["threads", "t", 4, "Threads.", usage.countCoerce("threads", "thread")]]

    with pytest.raises(usage.UsageError, match="at least one thread"):
        Pool().parseOptions(["--threads", "0"])
