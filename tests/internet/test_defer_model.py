"""Property test: random programs on a Deferred behave like a small reference model.

The model (``ModelDeferred``) is a direct, obviously-correct restatement of the rules
of torsion.internet.defer.Deferred for a single Deferred: callbacks run in order once
it has a result and is not paused; an exception switches to the error path, a normal
return to the success path; cancel before firing fails it with CancelledError and
lets the next firing attempt pass silently.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.internet.defer import AlreadyCalledError, CancelledError, Deferred
from torsion.python.failure import Failure


class Boom(Exception):
    """Raised by 'raise' steps; its argument names the step."""


Outcome = tuple[str, Any]

ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["addCallback", "addErrback", "addBoth"]),
            st.sampled_from(["ok", "raise"]),
        ),
        st.tuples(st.just("callback"), st.integers(0, 9)),
        st.tuples(st.just("errback"), st.integers(0, 9)),
        st.tuples(st.sampled_from(["pause", "unpause", "cancel"]), st.none()),
    ),
    max_size=25,
)


def step(kind: str, index: int, outcome: Outcome) -> Outcome:
    """What step ``index`` of ``kind`` turns ``outcome`` into, in model terms."""
    if kind == "raise":
        return ("fail", f"step{index}")
    if outcome[0] == "ok":
        return ("ok", outcome[1] + 1)
    return ("ok", 100 + index)


class ModelDeferred:
    def __init__(self) -> None:
        self.called = False
        self.paused = 0
        self.outcome: Outcome = ("none", None)
        self.pending: list[tuple[str, str, int]] = []
        self.suppress = False
        self.log: list[tuple[int, Outcome]] = []

    def run(self) -> None:
        while self.called and not self.paused and self.pending:
            method, kind, index = self.pending.pop(0)
            wanted = {"addCallback": "ok", "addErrback": "fail"}.get(method)
            if wanted is not None and self.outcome[0] != wanted:
                continue
            self.log.append((index, self.outcome))
            self.outcome = step(kind, index, self.outcome)

    def fire(self, outcome: Outcome) -> str | None:
        if self.called:
            if self.suppress:
                self.suppress = False
                return None
            return "AlreadyCalledError"
        self.called = True
        self.outcome = outcome
        self.run()
        return None


def realOutcome(result: Any) -> Outcome:
    if isinstance(result, Failure):
        if result.check(CancelledError):
            return ("fail", "cancelled")
        return ("fail", result.value.args[0])
    return ("ok", result)


def makeStep(kind: str, index: int, log: list[tuple[int, Outcome]]) -> Any:
    def stepFunction(result: Any) -> Any:
        log.append((index, realOutcome(result)))
        if kind == "raise":
            raise Boom(f"step{index}")
        if isinstance(result, Failure):
            return 100 + index
        return result + 1

    return stepFunction


@settings(max_examples=300, deadline=None)
@given(ops)
def test_randomProgramsMatchModel(program: list[tuple[str, Any]]) -> None:
    real: Deferred[int] = Deferred()
    realLog: list[tuple[int, Outcome]] = []
    model = ModelDeferred()
    for index, (op, arg) in enumerate(program):
        realError = modelError = None
        if op in ("addCallback", "addErrback", "addBoth"):
            getattr(real, op)(makeStep(arg, index, realLog))
            model.pending.append((op, arg, index))
            model.run()
        elif op in ("callback", "errback"):
            try:
                if op == "callback":
                    real.callback(arg)
                else:
                    real.errback(Boom(f"fired{arg}"))
            except AlreadyCalledError:
                realError = "AlreadyCalledError"
            modelError = model.fire(("ok", arg) if op == "callback" else ("fail", f"fired{arg}"))
        elif op == "pause":
            real.pause()
            model.paused += 1
        elif op == "unpause":
            if model.paused == 0:
                continue
            real.unpause()
            model.paused -= 1
            model.run()
        else:
            real.cancel()
            if not model.called:
                model.suppress = True
                model.called = True
                model.outcome = ("fail", "cancelled")
                model.run()
        assert realError == modelError
        assert realLog == model.log
        assert real.called == model.called
        assert real.paused == model.paused
    if real.called:
        assert realOutcome(real.result) == model.outcome
        if not real.paused:
            real.addErrback(lambda f: None)
