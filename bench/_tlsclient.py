"""The bulk-transfer client of bench/tls.py: Python's ssl module, blocking, one connection.

Run as ``python bench/_tlsclient.py upload|download PORT BYTES``. It connects to
127.0.0.1:PORT, completes the TLS handshake (TLS 1.3, no certificate check: the cost of
one verification is not what is measured), prints ``ready``, waits for a line on its
input, then moves BYTES through the connection and prints ``result`` with
``bytes=... seconds=... cpu=...`` (wall-clock seconds and its own CPU seconds, so the
driver can show it was not the bottleneck). Upload: 1 MiB ``sendall`` calls, then the
server's one-byte answer. Download: ``recv_into`` a 1 MiB buffer until BYTES arrived.
Nearly all of its time is in OpenSSL's C code. Its socket buffers are 4 MiB, so that it
can run ahead of the server instead of the two taking turns.
Tests: tests/bench/test_tls_smoke.py (through bench/tls.py --quick).
"""

from __future__ import annotations

import socket
import ssl
import sys
import time


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("upload", "download"):
        raise SystemExit(f"usage: {sys.argv[0]} upload|download PORT BYTES")
    mode, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2**22)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**22)
    tls = context.wrap_socket(raw, server_hostname="localhost")
    print("ready", flush=True)
    sys.stdin.readline()
    began, cpuBegan = time.perf_counter(), time.process_time()
    tls.sendall(mode[:1].encode() + total.to_bytes(8, "big"))
    if mode == "upload":
        block = b"u" * 2**20
        left = total
        while left > 0:
            piece = block if left >= len(block) else block[:left]
            tls.sendall(piece)
            left -= len(piece)
        if tls.recv(1) != b"k":
            raise SystemExit("the server did not confirm the upload")
    else:
        buffer = memoryview(bytearray(2**20))
        left = total
        while left > 0:
            got = tls.recv_into(buffer)
            if not got:
                raise SystemExit(f"the server closed with {left} bytes still to come")
            left -= got
    ended, cpuEnded = time.perf_counter(), time.process_time()
    print(
        f"result bytes={total} seconds={ended - began:.6f} cpu={cpuEnded - cpuBegan:.6f}",
        flush=True,
    )
    try:
        tls.close()
    except OSError:
        pass


if __name__ == "__main__":
    main()
