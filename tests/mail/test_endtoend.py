"""End to end: ``torsiond mail`` runs as a child process on free ports of 127.0.0.1;
Python's smtplib sends (STARTTLS, AUTH), poplib and imaplib read the same message back
intact (headers, 8-bit body, attachment); unknown recipients get 550; wrong passwords
are refused and logged without the password; and relayed mail reaches a second
torsiond mail that is down at first, once it comes up."""

from __future__ import annotations

import email
import email.policy
import imaplib
import poplib
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.mail._storehelpers import tlsFiles, torsiond
from tests.tap._torsiond import freePort

ATTACHMENT = bytes(range(256)) * 40


def makeMessage(to: str = "alice@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Sender <sender@remote.example>"
    message["To"] = to
    message["Subject"] = "Grüße aus Köln"
    message.set_content(
        "8-bit body: façade, naïve, 日本語\n.a line starting with a dot\n", cte="8bit"
    )
    message.add_attachment(
        ATTACHMENT, maintype="application", subtype="octet-stream", filename="blob.bin"
    )
    return message


def serverArgs(tmp_path: Path, smtp: int, pop: int, imap: int, *extra: str) -> list[str]:
    """torsiond mail's arguments: SMTP, POP3 and IMAP4 on these ports (STARTTLS and STLS
    offered), and any ``extra``."""
    _, _, keyFile, certFile = tlsFiles(tmp_path)
    return [
        "mail",
        "--maildirdbmdomain", f"example.com={tmp_path / 'example.com'}",
        "--user", "alice=correct horse",
        "--certificate", certFile, "--private-key", keyFile,
        "--smtp", f"tcp:{smtp}:interface=127.0.0.1",
        "--pop3", f"tcp:{pop}:interface=127.0.0.1",
        "--imap", f"tcp:{imap}:interface=127.0.0.1",
        "--hostname", "mx.example.com",
        *extra,
    ]  # fmt: skip


def clientContext(tmp_path: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))


def check(received: bytes, sent: EmailMessage) -> None:
    parsed = email.message_from_bytes(received, policy=email.policy.default)
    assert parsed["Subject"] == "Grüße aus Köln"
    assert parsed["Received"].startswith("from ")
    assert "by mx.example.com with ESMTPSA" in parsed["Received"]
    body = parsed.get_body(("plain",))
    assert body is not None
    assert (
        body.get_content().replace("\r\n", "\n")
        == "8-bit body: façade, naïve, 日本語\n.a line starting with a dot\n"
    )
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "blob.bin"
    assert attachment.get_content() == ATTACHMENT
    # Everything after our Received: header is what smtplib sent, byte for byte.
    original = sent.as_bytes(policy=email.policy.SMTP)
    assert received.endswith(original)


def test_smtplibSendsPoplibAndImaplibReadTheSameMessage(tmp_path: Path) -> None:
    smtpPort, popPort, imapPort = freePort(), freePort(), freePort()
    popsPort, imapsPort = freePort(), freePort()
    output: list[str] = []
    message = makeMessage()
    args = serverArgs(
        tmp_path, smtpPort, popPort, imapPort,
        "--pop3", f"ssl:{popsPort}:interface=127.0.0.1",
        "--imap", f"ssl:{imapsPort}:interface=127.0.0.1",
    )  # fmt: skip
    with torsiond(args, smtpPort, tmp_path, output):
        context = clientContext(tmp_path)
        with smtplib.SMTP("127.0.0.1", smtpPort, timeout=10) as client:
            client.ehlo("client.example")
            assert not client.has_extn("auth")  # no AUTH PLAIN in the clear
            client.starttls(context=context)
            client.ehlo("client.example")
            client.login("alice@example.com", "correct horse")
            refused = client.sendmail(
                "sender@remote.example", ["alice@example.com"],
                message.as_bytes(policy=email.policy.SMTP), mail_options=["BODY=8BITMIME"],
            )  # fmt: skip
            assert refused == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
                client.sendmail(
                    "sender@remote.example", ["nobody@example.com"], b"Subject: x\r\n\r\nx\r\n"
                )
            assert caught.value.recipients["nobody@example.com"][0] == 550

        pop = poplib.POP3("127.0.0.1", popPort, timeout=10)
        try:
            pop.stls(context)
            pop.user("alice")
            pop.pass_("correct horse")
            assert pop.stat()[0] == 1
            viaPOP = b"\r\n".join(pop.retr(1)[1]) + b"\r\n"
            pop.quit()
        finally:
            pop.close()
        check(viaPOP, message)

        imap = imaplib.IMAP4("127.0.0.1", imapPort, timeout=10)
        try:
            imap.starttls(context)
            imap.login("alice@example.com", "correct horse")
            imap.select("INBOX")
            status, data = imap.fetch("1", "(BODY.PEEK[])")
            assert status == "OK"
            viaIMAP = data[0][1]  # type: ignore[index]
            imap.logout()
        except BaseException:
            imap.shutdown()
            raise
        assert viaIMAP == viaPOP

        # The same over implicit TLS (ssl: endpoints with the --certificate).
        pops = poplib.POP3_SSL("127.0.0.1", popsPort, context=context, timeout=10)
        try:
            pops.user("alice@example.com")
            pops.pass_("correct horse")
            assert b"\r\n".join(pops.retr(1)[1]) + b"\r\n" == viaPOP
            pops.quit()
        finally:
            pops.close()
        imaps = imaplib.IMAP4_SSL("127.0.0.1", imapsPort, ssl_context=context, timeout=10)
        imaps.login("alice", "correct horse")
        imaps.select("INBOX", readonly=True)
        _, data = imaps.fetch("1", "(FLAGS BODY.PEEK[])")
        assert data[0][1] == viaPOP  # type: ignore[index]
        imaps.logout()
    log = "".join(output)
    assert "correct horse" not in log


def test_wrongPasswordsAreRefusedAndLoggedWithoutThePassword(tmp_path: Path) -> None:
    smtpPort, popPort, imapPort = freePort(), freePort(), freePort()
    output: list[str] = []
    with torsiond(serverArgs(tmp_path, smtpPort, popPort, imapPort), smtpPort, tmp_path, output):
        context = clientContext(tmp_path)
        with smtplib.SMTP("127.0.0.1", smtpPort, timeout=10) as client:
            client.starttls(context=context)
            with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
                client.login("alice", "Tr0ub4dor&3")
            assert caught.value.smtp_code == 535
            # Not authenticated: no relaying.
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("alice@example.com", ["bob@elsewhere.example"], b"x\r\n")
            assert refused.value.recipients["bob@elsewhere.example"][0] == 550
        pop = poplib.POP3("127.0.0.1", popPort, timeout=10)
        try:
            # With a certificate, no password is taken before TLS.
            with pytest.raises(poplib.error_proto, match="STLS"):
                pop.user("alice")
            pop.stls(context)
            pop.user("alice")
            with pytest.raises(poplib.error_proto, match="AUTH"):
                pop.pass_("Tr0ub4dor&3")
        finally:
            pop.close()
        imap = imaplib.IMAP4("127.0.0.1", imapPort, timeout=10)
        try:
            assert "LOGINDISABLED" in imap.capabilities
            imap.starttls(context)
            with pytest.raises(imaplib.IMAP4.error):
                imap.login("alice", "Tr0ub4dor&3")
        finally:
            imap.shutdown()
        time.sleep(0.2)  # let the server write its log lines
    log = "".join(output)
    assert "Tr0ub4dor" not in log
    assert log.count("alice") >= 3, log


def test_relayToAServerThatIsDownAtFirstDeliversOnceItIsUp(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    smtpPort, popPort, imapPort, nextHop = freePort(), freePort(), freePort(), freePort()
    args = serverArgs(
        first, smtpPort, popPort, imapPort,
        "--relay", str(first / "queue"),
        "--smarthost", f"127.0.0.1:{nextHop}",
        "--relay-retry-delays", "1",
    )  # fmt: skip
    secondArgs = [
        "mail", "--no-pop3",
        "--maildirdbmdomain", f"other.example={second / 'other.example'}",
        "--user", "bob=bobs password",
        "--smtp", f"tcp:{nextHop}:interface=127.0.0.1",
        "--hostname", "mx.other.example",
    ]  # fmt: skip
    message = makeMessage("bob@other.example")
    sent = message.as_bytes(policy=email.policy.SMTP)
    output: list[str] = []
    with torsiond(args, smtpPort, first, output):
        with smtplib.SMTP("127.0.0.1", smtpPort, timeout=10) as client:
            client.starttls(context=clientContext(first))
            client.login("alice", "correct horse")
            assert client.sendmail("alice@example.com", ["bob@other.example"], sent) == {}
        queue = first / "queue"
        deadline = time.monotonic() + 10
        while not any(p.name.endswith("-D") for p in queue.iterdir()):
            assert time.monotonic() < deadline, "the message never reached the queue"
            time.sleep(0.05)
        # The next hop is down: the first attempts fail and the message waits.
        time.sleep(2.5)
        assert any(p.name.endswith("-D") for p in queue.iterdir())
        inbox = second / "other.example" / "bob" / "new"
        with torsiond(secondArgs, nextHop, second):
            deadline = time.monotonic() + 20
            while not (inbox.is_dir() and any(inbox.iterdir())):
                assert time.monotonic() < deadline, "the relayed message never arrived"
                time.sleep(0.1)
            (delivered,) = list(inbox.iterdir())
            received = delivered.read_bytes()
            deadline = time.monotonic() + 10
            while any(p.name.endswith("-D") for p in queue.iterdir()):
                assert time.monotonic() < deadline, "the relayed message stayed queued"
                time.sleep(0.1)
    # Two Received: headers (ours, then the next hop's), then the message as sent.
    assert received.count(b"Received: from ") == 2
    assert received.endswith(sent.replace(b"\r\n", b"\n"))
    parsed = email.message_from_bytes(received, policy=email.policy.default)
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content() == ATTACHMENT
