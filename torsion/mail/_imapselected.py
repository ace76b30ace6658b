"""The IMAP4 server's commands of the selected state (FETCH, SEARCH, STORE, COPY,
EXPUNGE, CLOSE, their UID variants), and the argument helpers all commands share.

A mixin of IMAP4Server (torsion.mail._imapserver), kept apart to keep both modules
readable. Tests: tests/mail/test_imapserver.py, test_imaplib.py.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.internet import defer
from torsion.internet.interfaces import IPushProducer
from torsion.mail import _imaputf7
from torsion.mail._imapfetch import (
    FetchAtt,
    bodyStructure,
    envelope,
    flagList,
    internalDate,
    literal,
    parseFetchAtts,
    quoted,
    sectionData,
    wholeMessage,
)
from torsion.mail._imapinterfaces import (
    IllegalMailboxEncoding,
    IMessageCopier,
    ISearchableMailbox,
)
from torsion.mail._imapparser import MessageSet, Str, Token, parseSequenceSet
from torsion.mail._imapsearch import SearchContext, parseSearch

__all__ = ["SelectedCommands"]


class _Bad(Exception):
    """Answer the command with BAD and this text."""


class _No(Exception):
    """Answer the command with NO and this text."""


def _oneLine(text: str) -> bytes:
    return " ".join(text.split()).encode("utf-8", "replace")[:400] or b"failed"


def _mailboxName(token: Token) -> str:
    if not isinstance(token, bytes):
        raise _Bad("expected a mailbox name")
    raw = bytes(token)
    try:
        if any(b >= 0x80 for b in raw):
            return raw.decode("utf-8")
        return _imaputf7.decoder(raw)[0]
    except (UnicodeDecodeError, IllegalMailboxEncoding) as e:
        raise _Bad(f"bad mailbox name: {e}") from None


def _encodeName(name: str) -> bytes:
    return quoted(name.encode("imap4-utf-7"))


def _string(token: Token, what: str) -> bytes:
    if not isinstance(token, bytes):
        raise _Bad(f"expected {what}")
    return bytes(token)


def _flags(token: Token) -> list[str]:
    items = token if isinstance(token, list) else [token]
    flags = []
    for item in items:
        if not isinstance(item, bytes) or isinstance(item, Str):
            raise _Bad("flags are atoms like \\Seen")
        flags.append(bytes(item).decode("utf-8", "replace"))
    return flags


@implementer(IPushProducer)
class _Throttle:
    """Registered on the transport during a FETCH: the next message's response waits
    while the transport's buffer is full, so FETCH 1:* of a large mailbox to a slow
    client does not pile up in memory."""

    __slots__ = ("paused", "stopped")

    def __init__(self) -> None:
        self.paused: defer.Deferred[None] | None = None
        self.stopped = False

    def pauseProducing(self) -> None:
        if self.paused is None:
            self.paused = defer.Deferred()

    def resumeProducing(self) -> None:
        paused, self.paused = self.paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self) -> None:
        self.stopped = True
        self.resumeProducing()


class SelectedCommands:
    """FETCH, SEARCH, STORE, COPY, EXPUNGE, CHECK, CLOSE, UNSELECT and UID."""

    mbox: Any
    account: Any
    readonly: bool
    transport: Any

    if TYPE_CHECKING:

        def sendUntagged(self, text: bytes) -> None: ...

        def sendPositiveResponse(self, tag: bytes, message: bytes = b"") -> None: ...

        def _unselect(self, close: bool = True) -> None: ...

        def _refreshThen(self, tag: bytes, text: bytes) -> Any: ...

        def _args(self, args: list[Token], count: int, usage: str) -> None: ...

    # -- selected -----------------------------------------------------------------------

    def do_CHECK(self, tag: bytes, args: list[Token]) -> Any:
        return self._refreshThen(tag, b"CHECK completed")

    def do_CLOSE(self, tag: bytes, args: list[Token]) -> Any:
        return self._close(tag)

    async def _close(self, tag: bytes) -> None:
        if not self.readonly:
            await defer.maybeDeferred(self.mbox.expunge)
        self._unselect()
        self.sendPositiveResponse(tag, b"CLOSE completed")

    def do_UNSELECT(self, tag: bytes, args: list[Token]) -> None:
        self._unselect()
        self.sendPositiveResponse(tag, b"UNSELECT completed")

    def do_EXPUNGE(self, tag: bytes, args: list[Token]) -> Any:
        if self.readonly:
            raise _No("[READ-ONLY] the mailbox is open read-only (EXAMINE)")
        return self._expunge(tag)

    async def _expunge(self, tag: bytes) -> None:
        numbers = await defer.maybeDeferred(self.mbox.expunge)
        for done, number in enumerate(sorted(numbers)):
            self.sendUntagged(b"%d EXPUNGE" % (number - done))
        self.sendPositiveResponse(tag, b"EXPUNGE completed")

    def do_UID(self, tag: bytes, args: list[Token]) -> Any:
        if not args or not isinstance(args[0], bytes):
            raise _Bad("usage: UID FETCH|SEARCH|STORE|COPY ...")
        sub = bytes(args[0]).upper()
        handler = {
            b"FETCH": self._fetch, b"SEARCH": self._search,
            b"STORE": self._store, b"COPY": self._copy,
        }.get(sub)  # fmt: skip
        if handler is None:
            raise _Bad(f"UID {sub[:20].decode('ascii', 'replace')} is not supported")
        return handler(tag, args[1:], True)

    def do_FETCH(self, tag: bytes, args: list[Token]) -> Any:
        return self._fetch(tag, args, False)

    def do_SEARCH(self, tag: bytes, args: list[Token]) -> Any:
        return self._search(tag, args, False)

    def do_STORE(self, tag: bytes, args: list[Token]) -> Any:
        return self._store(tag, args, False)

    def do_COPY(self, tag: bytes, args: list[Token]) -> Any:
        return self._copy(tag, args, False)

    def _messageSet(self, token: Token) -> MessageSet:
        if not isinstance(token, bytes) or isinstance(token, Str):
            raise _Bad("expected a sequence set like 1:5,7")
        return parseSequenceSet(bytes(token))

    def _fetch(self, tag: bytes, args: list[Token], uid: bool) -> Any:
        if len(args) < 2:
            raise _Bad("usage: FETCH sequence-set items")
        messages = self._messageSet(args[0])
        atts = parseFetchAtts(args[1:])
        if uid and not any(att.name == "UID" for att in atts):
            atts.insert(0, FetchAtt("UID"))
        return self._doFetch(tag, messages, atts, uid)

    async def _doFetch(
        self, tag: bytes, messages: MessageSet, atts: list[FetchAtt], uid: bool
    ) -> None:
        mbox = self.mbox
        markSeen = not self.readonly and any(att.setsSeen for att in atts)
        wantsFlags = any(att.name == "FLAGS" for att in atts)
        found = await defer.maybeDeferred(mbox.fetch, messages, uid)
        throttle = _Throttle()
        self.transport.registerProducer(throttle, True)
        try:
            for number, message in found:
                await self._fetchOne(number, message, atts, markSeen, wantsFlags)
                if throttle.paused is not None:
                    await throttle.paused
                if throttle.stopped:
                    return
        finally:
            self.transport.unregisterProducer()
        self.sendPositiveResponse(tag, (b"UID " if uid else b"") + b"FETCH completed")

    async def _fetchOne(
        self, number: int, message: Any, atts: list[FetchAtt], markSeen: bool, wantsFlags: bool
    ) -> None:
        flags = list(message.getFlags())
        if markSeen and "\\Seen" not in flags:
            changed = await defer.maybeDeferred(
                self.mbox.store, MessageSet(number), ["\\Seen"], 1, False
            )
            flags = list(changed.get(number, [*flags, "\\Seen"]))
            if not wantsFlags:
                atts = [*atts, FetchAtt("FLAGS")]
        items = [self._fetchItem(message, att, flags) for att in atts]
        self.transport.write(b"* %d FETCH (" % number + b" ".join(items) + b")\r\n")

    def _fetchItem(self, message: Any, att: FetchAtt, flags: list[str]) -> bytes:
        name = att.name
        if name == "FLAGS":
            value = flagList(flags)
        elif name == "UID":
            value = b"%d" % message.getUID()
        elif name == "INTERNALDATE":
            value = internalDate(message.getInternalDate())
        elif name == "RFC822.SIZE":
            value = b"%d" % message.getSize()
        elif name == "ENVELOPE":
            value = envelope(message)
        elif name in ("BODY", "BODYSTRUCTURE") and att.section is None:
            value = bodyStructure(message, name == "BODYSTRUCTURE")
        elif name == "RFC822":
            value = literal(wholeMessage(message))
        elif name == "RFC822.HEADER":
            value = literal(sectionData(message, FetchAtt("BODY", (), "HEADER")) or b"")
        elif name == "RFC822.TEXT":
            value = literal(sectionData(message, FetchAtt("BODY", (), "TEXT")) or b"")
        else:
            data = sectionData(message, att) or b""
            if att.partial is not None:
                start, length = att.partial
                data = data[start : start + length]
            value = literal(data)
        return att.label() + b" " + value

    def _search(self, tag: bytes, args: list[Token], uid: bool) -> Any:
        try:
            _, keys, predicate = parseSearch(args)
        except LookupError:
            raise _No("[BADCHARSET (US-ASCII UTF-8)] unknown charset") from None
        return self._doSearch(tag, keys, predicate, uid)

    async def _doSearch(self, tag: bytes, keys: list[Token], predicate: Any, uid: bool) -> None:
        mbox = self.mbox
        if ISearchableMailbox.providedBy(mbox):
            ids = await defer.maybeDeferred(mbox.search, keys, uid)
        else:
            count = mbox.getMessageCount()
            ids = []
            if count:
                found = list(await defer.maybeDeferred(mbox.fetch, MessageSet(1, None), False))
                lastUID = max((message.getUID() for _, message in found), default=0)
                for number, message in found:
                    if predicate(SearchContext(number, message, count, lastUID)):
                        ids.append(message.getUID() if uid else number)
        self.sendUntagged(b" ".join([b"SEARCH", *(b"%d" % i for i in ids)]))
        self.sendPositiveResponse(tag, (b"UID " if uid else b"") + b"SEARCH completed")

    def _store(self, tag: bytes, args: list[Token], uid: bool) -> Any:
        if len(args) < 3:
            raise _Bad("usage: STORE sequence-set (+|-)FLAGS[.SILENT] (flags)")
        if self.readonly:
            raise _No("[READ-ONLY] the mailbox is open read-only (EXAMINE)")
        messages = self._messageSet(args[0])
        what = _string(args[1], "FLAGS, +FLAGS or -FLAGS").upper()
        mode = {b"+": 1, b"-": -1}.get(what[:1], 0)
        bare = what.lstrip(b"+-")
        if bare not in (b"FLAGS", b"FLAGS.SILENT"):
            raise _Bad("STORE takes FLAGS, +FLAGS or -FLAGS (optionally .SILENT)")
        flags = _flags(args[2] if len(args) == 3 else list(args[2:]))
        return self._doStore(tag, messages, flags, mode, uid, bare.endswith(b".SILENT"))

    async def _doStore(
        self, tag: bytes, messages: MessageSet, flags: list[str], mode: int, uid: bool, silent: bool
    ) -> None:
        result = await defer.maybeDeferred(self.mbox.store, messages, flags, mode, uid)
        if not silent:
            for number, newFlags in sorted(result.items()):
                extra = b" UID %d" % self.mbox.getUID(number) if uid else b""
                self.sendUntagged(b"%d FETCH (FLAGS %s%s)" % (number, flagList(newFlags), extra))
        self.sendPositiveResponse(tag, (b"UID " if uid else b"") + b"STORE completed")

    def _copy(self, tag: bytes, args: list[Token], uid: bool) -> Any:
        self._args(args, 2, "COPY sequence-set mailbox")
        return self._doCopy(tag, self._messageSet(args[0]), _mailboxName(args[1]), uid)

    async def _doCopy(self, tag: bytes, messages: MessageSet, name: str, uid: bool) -> None:
        dest = await defer.maybeDeferred(self.account.select, name, True)
        if dest is None:
            raise _No(f"[TRYCREATE] no mailbox named {name}")
        found = list(await defer.maybeDeferred(self.mbox.fetch, messages, uid))
        for _, message in found:
            if IMessageCopier.providedBy(dest):
                await defer.maybeDeferred(dest.copy, message)
            else:
                flags = [flag for flag in message.getFlags() if flag != "\\Recent"]
                data = io.BytesIO(wholeMessage(message))
                await defer.maybeDeferred(dest.addMessage, data, flags, message.getInternalDate())
        self.sendPositiveResponse(tag, (b"UID " if uid else b"") + b"COPY completed")
