"""Certificates and peers for the TLS tests: a test CA (trustme), options built from it,
and Python's ssl module or openssl on the other end of a connection.

The CA and its certificates are made once per test process (ECDSA keys: quick to make
and to handshake with). Peers in threads use blocking sockets with timeouts, and every
subprocess wait is bounded, so no test can hang on them.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
import trustme

from torsion.internet import ssl as tssl

OPENSSL = shutil.which("openssl")
needsOpenSSL = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not installed (apt-get install openssl)"
)


T = TypeVar("T")
_made = threading.RLock()


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """``functools.cache`` for a function of no arguments, safe when a test's peer
    thread and the test itself ask first at the same moment (each would otherwise make
    its own certificate authority, and the two ends would not trust each other)."""
    cached = functools.cache(make)

    @functools.wraps(make)
    def get() -> T:
        with _made:
            return cached()

    return get


@_once
def theCA() -> trustme.CA:
    """The test certificate authority."""
    return trustme.CA()


@_once
def otherCA() -> trustme.CA:
    """Another CA, that nothing trusts."""
    return trustme.CA()


@_once
def serverCert() -> trustme.LeafCert:
    """A server certificate from theCA for localhost and 127.0.0.1."""
    return theCA().issue_cert("localhost", "127.0.0.1")


@_once
def clientCert() -> trustme.LeafCert:
    """A client certificate from theCA."""
    return theCA().issue_cert("client.example", common_name="client.example")


def caCertificate(ca: trustme.CA | None = None) -> tssl.Certificate:
    return tssl.Certificate.loadPEM((ca or theCA()).cert_pem.bytes())


def privateCertificate(leaf: trustme.LeafCert) -> tssl.PrivateCertificate:
    return tssl.PrivateCertificate.loadPEM(leaf.private_key_and_cert_chain_pem.bytes())


def serverOptions(**kw: Any) -> tssl.CertificateOptions:
    """CertificateOptions presenting serverCert()."""
    leaf = serverCert()
    return tssl.CertificateOptions(
        privateKey=leaf.private_key_pem.bytes(), certificate=leaf.cert_chain_pems[0].bytes(), **kw
    )


def clientOptions(hostname: str = "localhost", **kw: Any) -> tssl.ClientTLSOptions:
    """optionsForClientTLS trusting theCA."""
    kw.setdefault("trustRoot", caCertificate())
    return tssl.optionsForClientTLS(hostname, **kw)


def writeFiles(directory: Path) -> dict[str, Path]:
    """Write the CA, server and client certificates and keys as PEM files."""
    files = {
        "ca": directory / "ca.pem",
        "server": directory / "server.pem",
        "client": directory / "client.pem",
    }
    theCA().cert_pem.write_to_path(str(files["ca"]))
    serverCert().private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    clientCert().private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    return files


def pythonServerContext(**kw: Any) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serverCert().configure_cert(context)
    for name, value in kw.items():
        setattr(context, name, value)
    return context


def pythonClientContext(**kw: Any) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    theCA().configure_trust(context)
    for name, value in kw.items():
        setattr(context, name, value)
    return context


class PeerThread:
    """Runs ``target(*args)`` in a thread; ``join`` re-raises what it raised, bounded."""

    def __init__(self, target: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(target, args), daemon=True)
        self._thread.start()

    def _run(self, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = target(*args)
        except BaseException as e:
            self.error = e

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float = 10) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"the peer thread did not finish within {timeout} seconds")
        if self.error is not None:
            raise self.error
        return self.result


@contextmanager
def listeningSocket() -> Iterator[socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    with listener:
        yield listener


def recvAll(sock: Any, until: Callable[[bytes], bool]) -> bytes:
    """Read from ``sock`` until ``until(data)`` holds or the peer closes."""
    data = b""
    while not until(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class Child:
    """A subprocess (openssl) whose output lines a thread collects, for bounded waits."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=str(cwd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, LC_ALL="C"),
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.output = b""
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def waitFor(self, condition: Callable[[bytes], bool], timeout: float = 10) -> bytes:
        """Collect output until ``condition(all output so far)``; fail after ``timeout``."""
        while not condition(self.output):
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"openssl said nothing more for {timeout} s; so far: {self.output!r}")
            if line is None:
                break
            self.output += line
        return self.output

    def seen(self, condition: Callable[[bytes], bool]) -> bool:
        """Take the output that has arrived (without waiting); return ``condition(it)``.

        For ``runUntil(reactor, lambda: child.seen(...))``: the reactor must go on
        running while openssl talks to it.
        """
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                break
            self.output += line
        return condition(self.output)

    def finish(self, timeout: float = 10) -> int:
        """Wait for the exit (killing it after ``timeout``); return its status."""
        try:
            if self.process.stdin is not None and not self.process.stdin.closed:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"openssl did not exit within {timeout} s; output: {self.output!r}")
        self.waitFor(lambda out: False, timeout=5)  # The rest of its output.
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.waitFor(lambda out: False, timeout=5)
