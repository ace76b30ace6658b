"""The news spool: newsgroups and their articles on disk, surviving restarts.

``NewsSpool(path)`` keeps, under ``path``:

- ``active``: the groups (name, description, creation time), a small JSON file
  rewritten atomically (a temporary file, fsync, rename) when a group is added;
- ``articles/XX/HASH``: one file per article, named by the SHA-256 of its message-id,
  written atomically before it is indexed;
- ``overview/GROUP``: one line per article of the group, appended (and fsynced) after
  the article file is in place: its number, its overview fields (Subject, From, Date,
  Message-ID, References, bytes, lines) and the time it arrived. A line cut short by a
  crash is dropped when the spool is opened again; an article file without an index
  line is never served (a repeated POST replaces it).

Everything needed to answer GROUP, LISTGROUP, OVER, NEWNEWS and the message-id index
is read from the overview files at start; article files are read only when an article
is asked for. ``Article.fromBytes`` checks a posted article (headers, limits, the
groups it names) and fills in what the poster may leave out (Message-ID, Date, Path).
The spool's methods run in the reactor thread (small writes, each fsynced once).
Tests: tests/news/test_database.py.
"""

from __future__ import annotations

import bisect
import email.utils
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from torsion.logger import Logger
from torsion.news._nntpcodec import isMessageId

__all__ = [
    "OVERVIEW_FORMAT",
    "Article",
    "Group",
    "NewsSpool",
    "OverviewEntry",
    "PostingError",
    "isGroupName",
]

_log = Logger(namespace="torsion.news.database")

# The fields of OVER/XOVER after the article number, in order (RFC 3977 8.4).
OVERVIEW_FORMAT = ("Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines")

# RFC 3977 3.1.3 / RFC 5536 3.1.4: newsgroup names.
_GROUP_NAME = re.compile(r"[a-z0-9+\-_]+(\.[a-z0-9+\-_]+)*\Z")
_HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+\Z")
_SINGLE = ("from", "subject", "newsgroups", "message-id", "date", "references", "path")


def isGroupName(name: str) -> bool:
    """Whether ``name`` is a newsgroup name this spool takes (lower case, dotted parts
    of letters, digits, ``+``, ``-`` and ``_``; RFC 3977 3.1.3 allows more)."""
    return len(name) <= 200 and _GROUP_NAME.match(name) is not None


class PostingError(ValueError):
    """A posted article is refused (reply 441); the message says why."""


@dataclass(slots=True)
class Article:
    """An article: its header lines (name, value, unfolded) and its body, as bytes.

    ``raw`` is the article as stored and served: CRLF line ends, headers as the
    poster wrote them plus those the server added.
    """

    headers: list[tuple[str, str]]
    raw: bytes
    bodyLines: int

    def getHeader(self, name: str) -> str | None:
        """The first header called ``name`` (any case), unfolded, or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def messageId(self) -> str:
        """The article's Message-ID (every stored article has one)."""
        return self.getHeader("Message-ID") or ""

    @property
    def head(self) -> bytes:
        """The header block, without the empty line that ends it."""
        return self.raw.split(b"\r\n\r\n", 1)[0]

    @property
    def body(self) -> bytes:
        """The body (everything after the empty line)."""
        parts = self.raw.split(b"\r\n\r\n", 1)
        return parts[1] if len(parts) > 1 else b""

    @classmethod
    def fromBytes(
        cls,
        data: bytes,
        hostname: str = "localhost",
        maxHeaders: int = 200,
        now: float | None = None,
    ) -> Article:
        """Check a posted article and add Message-ID, Date and Path where missing.

        ``data`` has CRLF or LF line ends and no dot-stuffing. Lines may be 998 octets
        (RFC 5536 3.3); headers must be UTF-8; From, Subject and Newsgroups are
        required and, like Message-ID and Date, may appear once.

        Raises:
            PostingError: saying what is wrong with the article.
        """
        lines = data.replace(b"\r\n", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        try:
            blank = lines.index(b"")
        except ValueError:
            blank = len(lines)
        headLines, bodyLines = lines[:blank], lines[blank + 1 :]
        if any(len(line) > 998 for line in lines):
            raise PostingError("a line is longer than 998 octets")
        headers = _parseHeaders(headLines)
        if len(headers) > maxHeaders:
            raise PostingError(f"more than {maxHeaders} header lines")
        present = [name.lower() for name, _ in headers]
        for required in ("From", "Subject", "Newsgroups"):
            if required.lower() not in present:
                raise PostingError(f"the article has no {required} header")
        for name in _SINGLE:
            if present.count(name) > 1:
                raise PostingError(f"the article has more than one {name} header")
        values = {name.lower(): value for name, value in headers}
        for name in ("from", "subject", "newsgroups"):
            if not values[name]:
                raise PostingError(f"the {name} header is empty")
        added: list[tuple[str, str]] = []
        messageId = values.get("message-id")
        if messageId is None:
            added.append(("Message-ID", f"<{uuid.uuid4().hex}@{hostname}>"))
        elif not isMessageId(messageId):
            raise PostingError(f"{messageId!r} is not a message-id (<local@domain>)")
        if "date" in values:
            try:
                email.utils.parsedate_to_datetime(values["date"])
            except (TypeError, ValueError):
                raise PostingError(f"the Date header {values['date']!r} is not a date") from None
        else:
            added.append(("Date", email.utils.formatdate(now, usegmt=True)))
        if "path" not in values:
            added.append(("Path", f"{hostname}!not-for-mail"))
        raw = b"".join(f"{name}: {value}\r\n".encode() for name, value in added)
        raw += b"".join(line + b"\r\n" for line in headLines)
        raw += b"\r\n" + b"".join(line + b"\r\n" for line in bodyLines)
        return cls(added + headers, raw, len(bodyLines))

    def newsgroups(self) -> list[str]:
        """The group names of the Newsgroups header, lower-cased, without repeats."""
        names: list[str] = []
        for name in (self.getHeader("Newsgroups") or "").split(","):
            name = name.strip().lower()
            if name and name not in names:
                names.append(name)
        return names


def _parseHeaders(lines: list[bytes], strict: bool = True) -> list[tuple[str, str]]:
    """Header lines to (name, unfolded value) pairs.

    Raises:
        PostingError: (when ``strict``) for a line that is not a header, or not UTF-8;
            otherwise (an article read back from the spool) such lines are kept as
            well as they decode.
    """
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and headers:
            previous, value = headers[-1]
            headers[-1] = (previous, value + " " + _text(line, strict).strip())
            continue
        rawName, colon, rawValue = line.partition(b":")
        if strict and (not colon or not _HEADER_NAME.match(rawName)):
            folded = line[:1] in (b" ", b"\t")
            what = "starts with a continuation line" if folded else "has a bad header"
            raise PostingError(f"the article {what}: {line[:60]!r}")
        headers.append((rawName.decode("ascii", "replace"), _text(rawValue, strict).strip()))
    return headers


def _text(value: bytes, strict: bool = True) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        if not strict:
            return value.decode("utf-8", "replace")
        raise PostingError("a header is not UTF-8 text") from None


def _overviewField(value: str | None) -> str:
    """A header value fit for one tab-separated overview line (RFC 3977 8.3.1)."""
    return re.sub(r"[\t\r\n\0]", " ", value or "")


@dataclass(frozen=True, slots=True)
class OverviewEntry:
    """One article's line of a group's overview, and when it arrived."""

    number: int
    subject: str
    author: str
    date: str
    messageId: str
    references: str
    bytes: int
    lines: int
    arrived: float

    def fields(self) -> list[str]:
        """The OVER fields after the number, in OVERVIEW_FORMAT's order."""
        return [
            self.subject,
            self.author,
            self.date,
            self.messageId,
            self.references,
            str(self.bytes),
            str(self.lines),
        ]

    def toLine(self) -> str:
        return "\t".join([str(self.number), *self.fields(), repr(self.arrived)])

    @classmethod
    def fromLine(cls, line: str) -> OverviewEntry:
        parts = line.split("\t")
        if len(parts) != 9:
            raise ValueError(f"{len(parts)} fields, not 9")
        return cls(
            int(parts[0]),
            parts[1],
            parts[2],
            parts[3],
            parts[4],
            parts[5],
            int(parts[6]),
            int(parts[7]),
            float(parts[8]),
        )


@dataclass(slots=True)
class Group:
    """A newsgroup: its description, creation time, and its articles' overview."""

    name: str
    description: str = ""
    created: float = 0.0
    numbers: list[int] = field(default_factory=list)
    entries: dict[int, OverviewEntry] = field(default_factory=dict)
    highest: int = 0

    @property
    def count(self) -> int:
        return len(self.numbers)

    @property
    def low(self) -> int:
        """The lowest article number; an empty group reports highest + 1 (RFC 3977)."""
        return self.numbers[0] if self.numbers else self.highest + 1

    def inRange(self, low: int, high: int | None) -> list[OverviewEntry]:
        """The entries numbered low..high (to the end if high is None), in order."""
        start = bisect.bisect_left(self.numbers, low)
        end = len(self.numbers) if high is None else bisect.bisect_right(self.numbers, high)
        return [self.entries[n] for n in self.numbers[start:end]]

    def after(self, number: int) -> int | None:
        index = bisect.bisect_right(self.numbers, number)
        return self.numbers[index] if index < len(self.numbers) else None

    def before(self, number: int) -> int | None:
        index = bisect.bisect_left(self.numbers, number)
        return self.numbers[index - 1] if index > 0 else None


class NewsSpool:
    """Newsgroups and articles in the directory ``path`` (made if missing).

    Args:
        path: the spool directory.
        hostname: the name put in generated Message-IDs and Path headers.
        clock: the time source (seconds since the epoch), for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        hostname: str = "localhost",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.hostname = hostname
        self._clock = clock
        self._groups: dict[str, Group] = {}
        # message-id -> (storage file, [(group, number), ...])
        self._byMessageId: dict[str, list[tuple[str, int]]] = {}
        for sub in ("articles", "overview"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._load()

    # -- opening ------------------------------------------------------------------------

    def _load(self) -> None:
        active = self.path / "active"
        if active.exists():
            try:
                listed = json.loads(active.read_text("utf-8"))
            except (OSError, ValueError) as e:
                raise OSError(f"{active}: unreadable group list ({e}); restore it") from e
            for entry in listed:
                self._groups[entry["name"]] = Group(
                    entry["name"], entry.get("description", ""), float(entry.get("created", 0))
                )
        for group in self._groups.values():
            self._loadOverview(group)

    def _loadOverview(self, group: Group) -> None:
        path = self.path / "overview" / group.name
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A crash cut the last append short: that article was never indexed.
            cut = data.rfind(b"\n") + 1
            _log.warn("{path}: dropping an incomplete last line", path=str(path))
            with path.open("r+b") as f:
                f.truncate(cut)
            data = data[:cut]
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            try:
                entry = OverviewEntry.fromLine(line)
            except ValueError as e:
                _log.warn("{path} line {n}: skipped ({e})", path=str(path), n=number, e=e)
                continue
            if entry.number <= group.highest:
                continue
            group.numbers.append(entry.number)
            group.entries[entry.number] = entry
            group.highest = entry.number
            self._byMessageId.setdefault(entry.messageId, []).append((group.name, entry.number))

    # -- groups ---------------------------------------------------------------------------

    def addGroup(self, name: str, description: str = "") -> Group:
        """Make the group ``name`` (lower case) if it does not exist; return it.

        Raises:
            ValueError: if ``name`` is not a valid newsgroup name.
        """
        name = name.strip().lower()
        if not isGroupName(name):
            raise ValueError(
                f"{name!r} is not a newsgroup name: use letters, digits, + - _ and dots "
                "between parts, such as comp.lang.python"
            )
        group = self._groups.get(name)
        if group is not None:
            if description and description != group.description:
                group.description = description
                self._saveActive()
            return group
        group = self._groups[name] = Group(name, description, self._clock())
        self._saveActive()
        return group

    def _saveActive(self) -> None:
        listed = [
            {"name": g.name, "description": g.description, "created": g.created}
            for g in self._groups.values()
        ]
        _atomicWrite(self.path / "active", json.dumps(listed, indent=1).encode())

    def group(self, name: str) -> Group | None:
        """The group called ``name`` (any case), or None."""
        return self._groups.get(name.lower())

    def groups(self) -> list[Group]:
        """Every group, sorted by name."""
        return sorted(self._groups.values(), key=lambda g: g.name)

    def newGroups(self, since: float) -> list[Group]:
        """The groups made at or after ``since`` (seconds since the epoch)."""
        return [g for g in self.groups() if g.created >= since]

    # -- articles -------------------------------------------------------------------------

    def postArticle(self, data: bytes) -> Article:
        """Check, store and index a posted article; return it as stored.

        Raises:
            PostingError: the article is malformed, names no group of this server,
                or repeats a Message-ID already here.
        """
        article = Article.fromBytes(data, self.hostname, now=self._clock())
        groups = [self._groups[n] for n in article.newsgroups() if n in self._groups]
        if not groups:
            raise PostingError(
                f"no newsgroup of this server in Newsgroups: {article.getHeader('Newsgroups')}"
            )
        messageId = article.messageId
        if messageId in self._byMessageId:
            raise PostingError(f"{messageId} is here already (a duplicate)")
        storage = self._articlePath(messageId)
        storage.parent.mkdir(exist_ok=True)
        _atomicWrite(storage, article.raw)
        arrived = self._clock()
        places: list[tuple[str, int]] = []
        for group in groups:
            number = group.highest + 1
            entry = OverviewEntry(
                number,
                _overviewField(article.getHeader("Subject")),
                _overviewField(article.getHeader("From")),
                _overviewField(article.getHeader("Date")),
                _overviewField(messageId),
                _overviewField(article.getHeader("References")),
                len(article.raw),
                article.bodyLines,
                arrived,
            )
            _appendLine(self.path / "overview" / group.name, entry.toLine())
            group.numbers.append(number)
            group.entries[number] = entry
            group.highest = number
            places.append((group.name, number))
        self._byMessageId[messageId] = places
        return article

    def _articlePath(self, messageId: str) -> Path:
        digest = hashlib.sha256(messageId.encode()).hexdigest()
        return self.path / "articles" / digest[:2] / digest

    def articleByMessageId(self, messageId: str) -> Article | None:
        """The article with this Message-ID, or None."""
        if messageId not in self._byMessageId:
            return None
        return self._read(messageId)

    def articleByNumber(self, groupName: str, number: int) -> Article | None:
        """Article ``number`` of the group, or None."""
        group = self.group(groupName)
        entry = group.entries.get(number) if group is not None else None
        if entry is None:
            return None
        return self._read(entry.messageId)

    def _read(self, messageId: str) -> Article | None:
        try:
            raw = self._articlePath(messageId).read_bytes()
        except FileNotFoundError:
            _log.error("the article file of {messageId} is missing", messageId=messageId)
            return None
        head, _, body = raw.partition(b"\r\n\r\n")
        return Article(_parseHeaders(head.split(b"\r\n"), strict=False), raw, body.count(b"\n"))

    def placesOf(self, messageId: str) -> list[tuple[str, int]]:
        """The (group, number) pairs under which the article is filed."""
        return list(self._byMessageId.get(messageId, ()))

    def newNews(self, matches: Callable[[str], bool], since: float) -> list[str]:
        """Message-IDs of articles that arrived at or after ``since`` in matching groups."""
        found: dict[str, None] = {}
        for group in self.groups():
            if not matches(group.name):
                continue
            for entry in _arrivedSince(group.entries.values(), since):
                found[entry.messageId] = None
        return list(found)


def _arrivedSince(entries: Iterable[OverviewEntry], since: float) -> Iterator[OverviewEntry]:
    return (entry for entry in entries if entry.arrived >= since)


def _atomicWrite(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    _fsyncDirectory(path.parent)


def _appendLine(path: Path, line: str) -> None:
    with path.open("ab") as f:
        f.write(line.encode("utf-8") + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _fsyncDirectory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
