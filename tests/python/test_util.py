"""torsion.python.util: user and group names, and switching to them."""

from __future__ import annotations

import grp
import os
import pwd

import pytest

from torsion.python.util import gidFromString, switchUID, uidFromString


def test_namesAndNumbers() -> None:
    assert uidFromString("0") == 0
    assert uidFromString(pwd.getpwuid(0).pw_name) == 0
    assert gidFromString("0") == 0
    assert gidFromString(grp.getgrgid(0).gr_name) == 0


def test_unknownNamesAreValueErrors() -> None:
    with pytest.raises(ValueError, match="no user named 'no-such-user-here'"):
        uidFromString("no-such-user-here")
    with pytest.raises(ValueError, match="no group named 'no-such-group-here'"):
        gidFromString("no-such-group-here")


def test_switchingToOneselfIsAllowed() -> None:
    switchUID(os.getuid(), os.getgid())
    switchUID(None, None)


def _nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user nobody")


@pytest.mark.skipif(os.getuid() != 0, reason="only root can switch to another user")
def test_rootSwitchesUserGroupAndSupplementaryGroups() -> None:
    nobody = _nobody()
    child = os.fork()
    if child == 0:
        try:
            switchUID(nobody.pw_uid, nobody.pw_gid)
            ok = (
                os.getuid() == nobody.pw_uid
                and os.getgid() == nobody.pw_gid
                and 0 not in os.getgroups()
            )
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to become an unprivileged user first")
def test_anUnprivilegedProcessCannotSwitch() -> None:
    nobody = _nobody()
    child = os.fork()
    if child == 0:
        try:
            switchUID(nobody.pw_uid, nobody.pw_gid)
            try:
                switchUID(0, 0)
            except PermissionError:
                os._exit(0)
            os._exit(3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
