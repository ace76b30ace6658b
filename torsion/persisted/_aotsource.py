"""The source form of an abstract object tree: laying it out, and reading it back.

Writing: a node that fits in the line is written on one line; one that does not is
opened on its line and its items follow one a line, indented, each with a trailing
comma, like the .tas listing of the seed (``app = Ref(2, Instance('...', {``).

Reading does not ``exec`` the text: it parses it with ``ast`` and evaluates only what
the form is made of (literals, lists, tuples, dicts, the node calls, ``float('nan')``,
``complex(re, im)``), so that a mistyped or foreign .tas file gets an error naming the
line, and stray code in it is refused rather than run. Rebuilding the graph from the
tree still imports and calls what the tree names, so a .tas file must still be trusted.

Tests: tests/persisted/test_aot.py.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from typing import Any

from torsion.persisted._aotnodes import (
    Class,
    Copyreg,
    Deref,
    FrozenSet,
    Function,
    Instance,
    InstanceMethod,
    Module,
    Named,
    Ref,
    Set,
    atomRepr,
    isKeywordName,
)
from torsion.persisted._jelly import ATOMS
from torsion.persisted.error import FormatError, NotPersistableError

__all__ = ["parseSource", "renderSource"]

WIDTH = 100
VARIABLE = "app"

# The deepest nesting the Python parser accepts is 200 brackets; a tree deeper than
# this could be written but never read back.
_MAX_BRACKETS = 190

_NODES: dict[str, Callable[..., Any]] = {
    cls.__name__: cls
    for cls in (
        Class,
        Copyreg,
        Deref,
        FrozenSet,
        Function,
        Instance,
        InstanceMethod,
        Module,
        Named,
        Ref,
        Set,
    )
}


class _TooLong(Exception):
    pass


def renderSource(tree: Any) -> str:
    """Return the text of a .tas file for ``tree``: ``app = ...`` over as many lines as needed.

    Raises:
        NotPersistableError: the tree is nested deeper than Python can parse back.
    """
    depth = _bracketDepth(tree)
    if depth > _MAX_BRACKETS:
        raise NotPersistableError(
            f"the object graph is nested {depth} brackets deep, more than the {_MAX_BRACKETS}"
            " that Python can read back from the source form; use the pickle or XML form"
        )
    return f"{VARIABLE} = {_Layout().pretty(tree, 0)}\n"


def _after(text: str, column: int) -> int:
    """The column at which the text following ``text`` (written at ``column``) starts."""
    lastLine = text.rpartition("\n")[2]
    return len(lastLine) if "\n" in text else column + len(text)


def _bracketDepth(node: Any) -> int:
    """How deeply the brackets of ``node``'s source form nest."""
    kind = type(node)
    if kind in ATOMS:
        return 1 if kind is complex or (kind is float and not math.isfinite(node)) else 0
    if kind is list or kind is tuple:
        return 1 + max(map(_bracketDepth, node), default=0)
    if kind is dict:
        return 1 + max(map(_bracketDepth, [*node, *node.values()]), default=0)
    if kind is Ref:
        return 1 + _bracketDepth(node.obj)
    if kind is Instance:
        state = node.state
        if type(state) is dict and state and all(map(isKeywordName, state)):
            return 1 + max(map(_bracketDepth, state.values()))
        return 1 + _bracketDepth(state)
    if kind in (Set, FrozenSet):
        return 1 + _bracketDepth(node.items)
    if kind is InstanceMethod:
        return 1 + _bracketDepth(node.instance)
    if kind is Copyreg:
        parts = [node.factory, node.args, *(value for _, value in node.options())]
        return 1 + max(map(_bracketDepth, parts))
    return 1


class _Layout:
    def pretty(self, node: Any, indent: int, column: int = 0, tail: int = 0) -> str:
        """Lay ``node`` out starting at ``column``, with ``tail`` characters after it.

        Continuation lines are indented by ``indent`` (their items by two more).
        """
        flat = self.flat(node, WIDTH - column - tail)
        if flat is not None:
            return flat
        kind = type(node)
        step = indent + 2
        if kind is str or kind is bytes:
            text = repr(node)
            # Split only what would not fit on a line of its own.
            return self._chunks(node, indent) if len(text) > WIDTH - indent - 2 else text
        if kind is list:
            return self._block("[", [self.pretty(x, step, step, 1) for x in node], "]", indent)
        if kind is tuple:
            return self._block("(", [self.pretty(x, step, step, 1) for x in node], ")", indent)
        if kind is dict:
            lines = []
            for key, value in node.items():
                keyText = self.pretty(key, step, step, 2) + ": "
                lines.append(keyText + self.pretty(value, step, _after(keyText, step), 1))
            return self._block("{", lines, "}", indent)
        if kind is Ref:
            head = f"Ref({node.number}, "
            return f"{head}{self.pretty(node.obj, indent, column + len(head), tail + 1)})"
        if kind is Instance:
            head = f"Instance({node.className!r},"
            state = node.state
            if type(state) is dict and state and all(map(isKeywordName, state)):
                lines = [
                    f"{k}={self.pretty(v, step, step + len(k) + 1, 1)}" for k, v in state.items()
                ]
                return self._block(head, lines, ")", indent)
            head += " "
            return f"{head}{self.pretty(state, indent, column + len(head), tail + 1)})"
        if kind in (Set, FrozenSet):
            head = f"{kind.__name__}("
            return f"{head}{self.pretty(node.items, indent, column + len(head), tail + 1)})"
        if kind is InstanceMethod:
            head = f"InstanceMethod({node.name!r}, {node.klass!r}, "
            return f"{head}{self.pretty(node.instance, indent, column + len(head), tail + 1)})"
        if kind is Copyreg:
            parts = [
                self.pretty(node.factory, step, step, 1),
                self.pretty(node.args, step, step, 1),
            ]
            parts += [
                f"{k}={self.pretty(v, step, step + len(k) + 1, 1)}" for k, v in node.options()
            ]
            return self._block("Copyreg(", parts, ")", indent)
        return atomRepr(node) if kind in ATOMS else repr(node)

    def _block(self, opening: str, lines: list[str], closing: str, indent: int) -> str:
        inner = " " * (indent + 2)
        body = "".join(f"{inner}{line},\n" for line in lines)
        return f"{opening}\n{body}{' ' * indent}{closing}"

    def _chunks(self, value: str | bytes, indent: int) -> str:
        """A long string as adjacent literals in parentheses, one a line."""
        room = max(WIDTH - indent - 2, 20)
        pieces: list[str] = []
        start = 0
        while start < len(value):
            # The longest piece whose repr fits (a piece is never longer than its repr).
            low, high = start + 1, min(len(value), start + room)
            while low < high:
                middle = (low + high + 1) // 2
                if len(repr(value[start:middle])) <= room:
                    low = middle
                else:
                    high = middle - 1
            pieces.append(repr(value[start:low]))
            start = low
        return self._block("(", pieces, ")", indent).replace(",\n", "\n")

    def flat(self, node: Any, budget: int) -> str | None:
        """The one-line form of ``node`` if it is at most ``budget`` long, else None."""
        self._out: list[str] = []
        self._budget = budget
        try:
            self._flat(node)
        except _TooLong:
            return None
        return "".join(self._out)

    def _put(self, text: str) -> None:
        self._budget -= len(text)
        if self._budget < 0:
            raise _TooLong
        self._out.append(text)

    def _items(self, values: Any, opening: str, closing: str) -> None:
        self._put(opening)
        for index, value in enumerate(values):
            if index:
                self._put(", ")
            self._flat(value)
        self._put(closing)

    def _flat(self, node: Any) -> None:
        put = self._put
        kind = type(node)
        if kind in ATOMS:
            put(atomRepr(node))
        elif kind is list:
            self._items(node, "[", "]")
        elif kind is tuple:
            self._items(node, "(", ",)" if len(node) == 1 else ")")
        elif kind is dict:
            put("{")
            for index, (key, value) in enumerate(node.items()):
                if index:
                    put(", ")
                self._flat(key)
                put(": ")
                self._flat(value)
            put("}")
        elif kind is Ref:
            put(f"Ref({node.number}, ")
            self._flat(node.obj)
            put(")")
        elif kind is Instance:
            put(f"Instance({node.className!r}")
            state = node.state
            if type(state) is dict and state and all(map(isKeywordName, state)):
                for key, value in state.items():
                    put(f", {key}=")
                    self._flat(value)
            elif state is not None:
                put(", ")
                self._flat(state)
            put(")")
        elif kind in (Set, FrozenSet):
            put(f"{kind.__name__}(")
            self._flat(node.items)
            put(")")
        elif kind is InstanceMethod:
            put(f"InstanceMethod({node.name!r}, {node.klass!r}, ")
            self._flat(node.instance)
            put(")")
        elif kind is Copyreg:
            put("Copyreg(")
            self._flat(node.factory)
            put(", ")
            self._flat(node.args)
            for key, value in node.options():
                put(f", {key}=")
                self._flat(value)
            put(")")
        else:
            put(repr(node))


def parseSource(text: str, filename: str = "<source>") -> Any:
    """Read the text of a .tas file (``app = ...``) and return its abstract object tree.

    Raises:
        FormatError: the text is not Python, or holds something other than one
            assignment of an object tree; the message names the line.
    """
    try:
        with warnings.catch_warnings():
            # Python warns about odd escapes in string literals; they still mean what
            # they meant when the file was written, so they are not the reader's concern.
            warnings.simplefilter("ignore")
            module = ast.parse(text, filename=filename, mode="exec")
    except SyntaxError as e:
        raise FormatError(f"{filename}, line {e.lineno}: {e.msg}") from None
    except (ValueError, MemoryError, RecursionError) as e:
        raise FormatError(f"{filename}: cannot be parsed as Python source: {e}") from None
    statements = module.body
    if (
        len(statements) != 1
        or not isinstance(statements[0], ast.Assign)
        or len(statements[0].targets) != 1
        or not isinstance(statements[0].targets[0], ast.Name)
    ):
        line = statements[0].lineno if statements else 1
        raise FormatError(
            f"{filename}, line {line}: the source form holds one assignment,"
            f" {VARIABLE} = <object tree>, and nothing else"
        )
    try:
        return _Evaluator(filename).evaluate(statements[0].value)
    except RecursionError:
        raise FormatError(f"{filename}: the object tree is nested too deeply") from None


class _Evaluator:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, node: ast.AST, message: str) -> FormatError:
        return FormatError(f"{self.filename}, line {getattr(node, 'lineno', '?')}: {message}")

    def evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if type(node.value) not in ATOMS:
                raise self.fail(node, f"{node.value!r} is not part of the source form")
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.evaluate(node.operand)
            if type(operand) not in (int, float, complex):
                raise self.fail(node, "a sign applies only to a number")
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            left, right = self.evaluate(node.left), self.evaluate(node.right)
            if type(left) not in (int, float) or type(right) is not complex:
                raise self.fail(node, "only a complex number (1+2j) may be written as a sum")
            return left + right if isinstance(node.op, ast.Add) else left - right
        if isinstance(node, ast.List):
            return [self.evaluate(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.evaluate(item) for item in node.elts)
        if isinstance(node, ast.Dict):
            result: dict[Any, Any] = {}
            for keyNode, valueNode in zip(node.keys, node.values, strict=True):
                if keyNode is None:
                    raise self.fail(node, "** in a dict is not part of the source form")
                key = self.evaluate(keyNode)
                try:
                    result[key] = self.evaluate(valueNode)
                except TypeError:
                    raise self.fail(keyNode, f"{key!r} cannot be a dict key") from None
            return result
        if isinstance(node, ast.Call):
            return self._call(node)
        what = type(node).__name__
        raise self.fail(node, f"a {what} expression is not part of the source form")

    def _call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the node names (Instance, Ref, ...) may be called")
        name = node.func.id
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.fail(node, f"* and ** arguments to {name}() are not part of the form")
        args = [self.evaluate(a) for a in node.args]
        kwargs = {k.arg: self.evaluate(k.value) for k in node.keywords if k.arg is not None}
        if name == "float":
            if kwargs or len(args) != 1 or args[0] not in ("nan", "inf", "-inf"):
                raise self.fail(
                    node, "float() is written only as float('nan'), float('inf') or float('-inf')"
                )
            return float(args[0])
        if name == "complex":
            if kwargs or len(args) != 2 or any(type(a) not in (int, float) for a in args):
                raise self.fail(node, "complex() is written only as complex(real, imag)")
            return complex(args[0], args[1])
        factory = _NODES.get(name)
        if factory is None:
            raise self.fail(node, f"{name}() is not part of the source form")
        try:
            return factory(*args, **kwargs)
        except TypeError as e:
            raise self.fail(node, str(e)) from None
