"""A command-line client of ``torsiond pb``, the shared key/value store.

Start the server (``torsiond -n pb``), then::

    python examples/pb/kvclient.py set color blue
    python examples/pb/kvclient.py get color              # prints "blue"
    python examples/pb/kvclient.py --json set limits '{"cpu": 2}'
    python examples/pb/kvclient.py keys
    python examples/pb/kvclient.py delete color
    python examples/pb/kvclient.py watch                  # every change, live, until Ctrl-C
    python examples/pb/kvclient.py --user alice --password secret set color red
    python examples/pb/kvclient.py --connect tcp:host=127.0.0.1:port=8789 whoami
    python examples/pb/kvclient.py --connect tls:kv.example:8789:trustRoots=ca.pem \
        --user alice --password secret --send-password keys

``watch`` holds a live copy of the whole store (a RemoteCache of the server's
Cacheable): it prints the store once, then one line per change as the server pushes
it, made by any client. ``--count N`` stops it after N changes. Without ``--user`` the
client logs in anonymously, which the server allows when it was started without
``--auth`` (or with ``--auth anonymous``, read-only). See docs/pb-plugin.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from torsion.cred.credentials import Anonymous, UsernamePassword
from torsion.internet import defer, endpoints, error, task
from torsion.spread import pb
from torsion.tap.pb import RemoteKeyValueStore


def parseArguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A client of torsiond pb's key/value store.")
    parser.add_argument(
        "--connect",
        default="tcp:host=127.0.0.1:port=8789",
        help="the server's client endpoint description (default %(default)s)",
    )
    parser.add_argument("--user", help="log in as this user (default: anonymously)")
    parser.add_argument("--password", default="", help="the user's password")
    parser.add_argument(
        "--send-password",
        action="store_true",
        help="send the password itself (for servers whose password file keeps only "
        "hashes; over TLS: --connect tls:HOST:PORT:trustRoots=CA.pem) instead of "
        "answering the MD5 challenge",
    )
    parser.add_argument("--json", action="store_true", help="set: the value is JSON")
    parser.add_argument("--count", type=int, help="watch: stop after this many changes")
    parser.add_argument("command", choices=["get", "set", "delete", "keys", "watch", "whoami"])
    parser.add_argument("arguments", nargs="*", help="get/delete KEY, set KEY VALUE")
    options = parser.parse_args(argv)
    wanted = {"get": 1, "delete": 1, "set": 2}.get(options.command, 0)
    if len(options.arguments) != wanted:
        parser.error(f"{options.command} takes {wanted} argument(s)")
    return options


def show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=repr)


async def main(reactor: Any, argv: list[str]) -> None:
    options = parseArguments(argv)
    factory = pb.PBClientFactory()
    if options.user is None:
        credentials: Any = Anonymous()
    else:
        credentials = UsernamePassword(options.user, options.password)
    try:
        await endpoints.clientFromString(reactor, options.connect).connect(factory)
        user = await factory.login(credentials, sendPassword=options.send_password)
        await run(user, options)
    except (pb.RemoteError, pb.Error, error.ConnectError, error.ConnectionLost) as e:
        # What the server refused (a failed login, a read-only store) or a lost
        # connection: a message for the user, not a traceback.
        raise SystemExit(f"kvclient: {e}") from None
    finally:
        factory.disconnect()


async def run(user: Any, options: argparse.Namespace) -> None:
    command, arguments = options.command, options.arguments
    if command == "get":
        print(show(await user.callRemote("get", arguments[0])))
    elif command == "set":
        value = json.loads(arguments[1]) if options.json else arguments[1]
        await user.callRemote("set", arguments[0], value)
    elif command == "delete":
        if not await user.callRemote("delete", arguments[0]):
            raise SystemExit(f"no key {arguments[0]!r} in the store")
    elif command == "keys":
        for key in await user.callRemote("keys"):
            print(key)
    elif command == "whoami":
        name, mayWrite = await user.callRemote("whoami")
        print(f"{name} ({'may write' if mayWrite else 'read-only'})")
    else:
        await watch(user, options.count)


async def watch(user: Any, count: int | None) -> None:
    store: RemoteKeyValueStore = await user.callRemote("store")
    for key, value in sorted(store.data.items()):
        print(f"{key} = {show(value)}")
    print("watching for changes", flush=True)
    finished: defer.Deferred[None] = defer.Deferred()
    seen = [0]

    def changed(what: str, key: str, value: Any, by: str) -> None:
        if what == "set":
            print(f"{by} set {key} = {show(value)}", flush=True)
        else:
            print(f"{by} deleted {key}", flush=True)
        seen[0] += 1
        if count is not None and seen[0] >= count and not finished.called:
            finished.callback(None)

    def lost(reference: Any) -> None:
        if not finished.called:
            finished.errback(SystemExit("the server closed the connection"))

    store.watch(changed)
    user.notifyOnDisconnect(lost)
    await finished


if __name__ == "__main__":
    task.react(main, [sys.argv[1:]])
