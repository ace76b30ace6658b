"""Helpers of the torsion.web.template tests: flatten synchronously, or expect a failure."""

from __future__ import annotations

from typing import Any

from torsion.python.failure import Failure
from torsion.web.error import FlattenerError
from torsion.web.template import flattenString


def flat(root: Any, request: Any = None) -> bytes:
    """``root`` flattened; it must not wait on anything that has not fired."""
    outcome: list[Any] = []
    flattenString(request, root).addBoth(outcome.append)
    assert outcome, "the flattening waits on something that has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    result = outcome[0]
    assert isinstance(result, bytes)
    return result


def flatFails(root: Any, request: Any = None) -> FlattenerError:
    """The FlattenerError that flattening ``root`` fails with (synchronously)."""
    outcome: list[Any] = []
    flattenString(request, root).addBoth(outcome.append)
    assert outcome, "the flattening waits on something that has not fired"
    failure = outcome[0]
    assert isinstance(failure, Failure), f"expected a failure, got {failure!r}"
    assert isinstance(failure.value, FlattenerError), failure
    return failure.value
