"""Network namespaces for the TUN/TAP tests: a fresh namespace per test, always deleted.

A test opens a TuntapPort in its own process (so the reactor under test reads the
device), then moves the device into the namespace with ``moveInto``; the descriptor
keeps working there. Peers (iputils ping, a Python UDP socket) run inside with
``ip netns exec``. Where the machine forbids namespaces or has no /dev/net/tun or no
``ip``, the fixture skips, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

# Our end of the link and the kernel's end inside the namespace.
TORSION_ADDRESS = "10.200.0.2"
KERNEL_ADDRESS = "10.200.0.1"


def run(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run a command, bounded; fail the test with its output if it fails."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode:
        pytest.fail(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr or result.stdout}"
        )
    return result


@pytest.fixture
def namespace() -> Iterator[str]:
    """The name of a new network namespace, deleted after the test whatever happens."""
    if sys.platform != "linux":
        pytest.skip("TUN/TAP devices and network namespaces are Linux's")
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed (apt-get install iproute2)")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun does not exist here (no tun module, or not in this container)")
    name = f"torsion-pair-{uuid.uuid4().hex[:10]}"
    made = subprocess.run(
        ["ip", "netns", "add", name], capture_output=True, text=True, timeout=10, check=False
    )
    if made.returncode:
        pytest.skip(
            f"this machine forbids network namespaces: ip netns add said {made.stderr.strip()}"
        )
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10, check=False)


def moveInto(namespace: str, device: str, pointToPoint: bool) -> None:
    """Move ``device`` into ``namespace``, give the kernel's end its address, bring it up."""
    run("ip", "link", "set", "dev", device, "netns", namespace)
    if pointToPoint:
        run(
            "ip",
            "-n",
            namespace,
            "addr",
            "add",
            KERNEL_ADDRESS,
            "peer",
            TORSION_ADDRESS,
            "dev",
            device,
        )
    else:
        run("ip", "-n", namespace, "addr", "add", f"{KERNEL_ADDRESS}/24", "dev", device)
    run("ip", "-n", namespace, "link", "set", device, "up")


def inNamespace(namespace: str, *args: str) -> list[str]:
    """The command line that runs ``args`` inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, *args]


def needPing() -> str:
    """The path of iputils ping, or skip."""
    ping = shutil.which("ping")
    if ping is None:
        pytest.skip("ping is not installed (apt-get install iputils-ping)")
    return ping
