"""The maildir domains: users whose mail is kept in maildirs under one directory, and
who log in with passwords stored as hashes. Import them from torsion.mail.maildir.

Tests: tests/mail/test_mailservice.py, tests/mail/test_alias.py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.cred.credentials import IUsernamePassword
from torsion.logger import Logger
from torsion.mail.mail import IAliasableDomain
from torsion.mail.pop3 import IMailbox

if TYPE_CHECKING:
    from torsion.mail.maildir import MaildirMessage

__all__ = ["AbstractMaildirDomain", "MaildirDirdbmDomain"]

_log = Logger(namespace="torsion.mail.maildir")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def _userName(user: bytes | str) -> str:
    """A user name as stored (lower case), checked to be a safe directory name.

    Raises:
        ValueError: the name cannot be a user of a maildir domain.
    """
    if isinstance(user, bytes):
        try:
            user = user.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"the user name {user!r} is not UTF-8") from None
    name = user.strip().lower()
    if (
        not name
        or name.startswith(".")
        or name == "passwd"
        or any(ch in name for ch in "/\\:@\0")
        or any(ch.isspace() or ord(ch) < 32 for ch in name)
        or len(name) > 64
    ):
        raise ValueError(
            f"{user!r} cannot be a user name here: use 1 to 64 characters without "
            "'/', '\\\\', ':', '@', spaces or control characters, not starting with '.', "
            "and not 'passwd'"
        )
    return name


@implementer(IAliasableDomain)
class AbstractMaildirDomain:
    """A domain whose users each have a maildir under ``root`` (``root/USER``).

    Subclasses say who the users are (``userDirectory``) and how they log in
    (``addUser``, ``getCredentialsCheckers``). Mail to a name that is not a user
    goes to the alias of that name, if any (``setAliasGroup``), and is refused (550)
    otherwise. Set ``fsync`` to False only where losing mail in a crash is fine.
    """

    fsync = True

    def __init__(self, service: Any, root: str) -> None:
        self.service = service
        self.root = root
        self.alias: dict[bytes, Any] | None = None

    def userDirectory(self, user: bytes | str) -> str | None:
        """The maildir of ``user``, or None if there is no such user."""
        raise NotImplementedError

    def setAliasGroup(self, alias: dict[bytes, Any]) -> None:
        self.alias = alias

    def exists(self, user: Any, memo: Any = None) -> Any:
        """A callable that makes the IMessage for ``user`` (an smtp.User).

        Raises:
            smtp.SMTPBadRcpt: no such user or alias (550); an alias loop (550).
        """
        from torsion.mail import smtp

        local = user.dest.local
        if self.userDirectory(local) is not None:
            return lambda: self.startMessage(user)
        alias = self.alias.get(local.lower()) if self.alias is not None else None
        if alias is None:
            raise smtp.SMTPBadRcpt(user, 550, b"5.1.1 No such user here")
        from torsion.mail.alias import AliasLoopError, MultiWrapper

        domainName = (user.dest.domain or b"").lower()
        start = (local + b"@" + domainName).decode("utf-8", "replace").lower()
        try:
            targets = alias.targets(self.alias, (start,), (domainName, self))
        except AliasLoopError as e:
            _log.error(
                "mail to {user} refused: the aliases are broken: {why}",
                user=str(user.dest),
                why=_text(e.resp),
            )
            raise smtp.SMTPBadRcpt(user, 550, e.resp) from None
        except smtp.SMTPBadRcpt as e:
            _log.error(
                "mail to {user} refused: an alias target does not exist: {why}",
                user=str(user.dest),
                why=str(e),
            )
            raise smtp.SMTPBadRcpt(user, 550, b"5.1.1 No such user here") from None
        if not targets:
            raise smtp.SMTPBadRcpt(user, 550, b"5.1.1 No such user here")
        if len(targets) == 1:
            return targets[0][1]
        return lambda: MultiWrapper([make() for _, make in targets])

    def startMessage(self, user: Any) -> MaildirMessage:
        """The IMessage that delivers one message into ``user``'s maildir."""
        from torsion.mail import maildir

        if isinstance(user, str | bytes):
            text = _text(user)
            name = text.partition("@")[0]
            address: bytes | str = text
        else:
            name, address = _text(user.dest.local), bytes(user.dest)
        path = self.userDirectory(name)
        if path is None:
            from torsion.mail import smtp

            raise smtp.SMTPBadRcpt(user)
        if not os.path.isdir(os.path.join(path, "tmp")):
            maildir.initializeMaildir(path)
        return maildir.MaildirMessage(address, path, self.fsync)

    def willRelay(self, user: Any, protocol: Any) -> bool:
        return False

    def addUser(self, user: bytes | str, password: bytes | str) -> None:
        raise NotImplementedError

    def getCredentialsCheckers(self) -> list[Any]:
        raise NotImplementedError

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        """A user's mailbox: pop3.IMailbox (MaildirMailbox) or imap4.IAccount
        (torsion.mail.imap4maildir.MaildirAccount), whichever is asked for first."""
        from torsion.mail import maildir

        path = self.userDirectory(avatarId)
        if path is None:
            raise ValueError(f"{_text(avatarId)!r} has no maildir in {self.root}")
        if not os.path.isdir(os.path.join(path, "cur")):
            maildir.initializeMaildir(path)
        for interface in interfaces:
            if interface is IMailbox:
                return IMailbox, maildir.MaildirMailbox(path), lambda: None
            if interface.__name__ == "IAccount":
                from torsion.mail import imap4maildir

                return interface, imap4maildir.MaildirAccount(path), lambda: None
        raise NotImplementedError(
            "a maildir domain gives pop3.IMailbox and imap4.IAccount avatars, not "
            + ", ".join(getattr(i, "__name__", str(i)) for i in interfaces)
        )


class MaildirDirdbmDomain(AbstractMaildirDomain):
    """A maildir domain whose users and password hashes are in ``root/passwd``.

    The file has a line ``user:HASH`` per user (argon2id by default, the form that
    torsion.cred.hashing writes and ``torsion passwd`` makes), rewritten atomically
    and private to the owner; each user's maildir is ``root/user``. ``addUser``
    hashes the password (slow on purpose: about a quarter of a second). The checker
    (a FilePasswordDB on the file) reads it at each login, so users added by another
    process count at once. User names are case-insensitive.

    Differences from Twisted, on purpose: Twisted keeps the passwords in the clear in a
    dirdbm directory; these are hashed, so APOP and CRAM-MD5 (which need the password
    in the clear) are not offered for this domain.

    Args:
        service: the MailService.
        root: the directory of the maildirs and the passwd file (made if missing).
        postmaster: deliver mail for unknown names to the user ``postmaster`` instead
            of refusing it.
        hasher: how to hash new passwords (torsion.cred.hashing; default argon2id).
        reactor: whose thread pool checks the hashes (default: the global reactor).
    """

    def __init__(
        self,
        service: Any,
        root: str,
        postmaster: bool = False,
        hasher: Any = None,
        *,
        reactor: Any = None,
    ) -> None:
        super().__init__(service, root)
        self.reactor = reactor
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.postmaster = postmaster
        self.hasher = hasher
        self.passwordFile = os.path.join(root, "passwd")
        self._users: dict[str, str] = {}
        self._stamp: tuple[float, int, int] | None = None

    def _load(self) -> dict[str, str]:
        try:
            st = os.stat(self.passwordFile)
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return self._users
        stamp = (st.st_mtime, st.st_size, st.st_ino)
        if stamp != self._stamp:
            users: dict[str, str] = {}
            with open(self.passwordFile, encoding="utf-8") as f:
                for line in f:
                    name, colon, hashed = line.rstrip("\n").partition(":")
                    if colon and name and not name.startswith("#"):
                        users[name.lower()] = hashed
            self._users, self._stamp = users, stamp
        return self._users

    def userDirectory(self, user: bytes | str) -> str | None:
        try:
            name = _userName(user)
        except ValueError:
            return None
        users = self._load()
        if name in users:
            return os.path.join(self.root, name)
        if self.postmaster and "postmaster" in users:
            return os.path.join(self.root, "postmaster")
        return None

    def addUser(self, user: bytes | str, password: bytes | str) -> None:
        """Add ``user`` (or change its password) and make its maildir.

        Raises:
            ValueError: the name cannot be a user name (the message says why).
        """
        from torsion.cred import hashing
        from torsion.mail import maildir

        name = _userName(user)
        hashed = (self.hasher or hashing.hasherFor()).hash(password)
        users = dict(self._load())
        users[name] = hashed
        tmp = self.passwordFile + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for entry, value in users.items():
                f.write(f"{entry}:{value}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.passwordFile)
        maildir.initializeMaildir(os.path.join(self.root, name))
        self._load()

    def getCredentialsCheckers(self) -> list[Any]:
        from torsion.cred.checkers import FilePasswordDB

        return [
            _LowerCaseChecker(
                FilePasswordDB(self.passwordFile, caseSensitive=False, reactor=self.reactor)
            )
        ]

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        return super().requestAvatar(_userName(avatarId), mind, *interfaces)


class _LowerCaseChecker:
    """A checker whose avatar ids are the lower-case user names (the maildirs')."""

    def __init__(self, checker: Any) -> None:
        self.checker = checker
        self.credentialInterfaces = (IUsernamePassword,)

    def requestAvatarId(self, credentials: Any) -> Any:
        from torsion.internet import defer

        d = defer.maybeDeferred(self.checker.requestAvatarId, credentials)
        return d.addCallback(lambda avatarId: _text(avatarId).lower().encode("utf-8"))
