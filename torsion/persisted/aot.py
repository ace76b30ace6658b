"""The readable form of an object graph: an abstract object tree (AOT) and its Python source.

``jellyToSource(obj)`` writes a graph as Python source (what a .tas file holds)::

    app = Ref(1, Instance('myapp.Server',
      name='echo',
      factory=Instance('myapp.Factory', protocol=Class('torsion.protocols.wire.Echo')),
      parent=Deref(1),
    ))

and ``unjellyFromSource(text)`` rebuilds the same graph. ``Instance(className, **state)``
is an object made without calling ``__init__`` and given its state; ``Ref(n, ...)``
marks an object that is met again later, as ``Deref(n)``, which is how shared objects
stay shared and cycles stay cycles; ``Class``, ``Function``, ``Module`` and ``Named``
are module-level objects by name; ``InstanceMethod`` is a bound method; ``Copyreg`` is
an object made by a call, from its ``__reduce__``; ``Set`` and ``FrozenSet`` hold their
items in a list. ``jellyToAOT`` and ``unjellyFromAOT`` give and take the tree itself,
which is also what the XML form (torsion.persisted.marmalade) is written from.

What can be saved is what pickle can save, with the same hooks (``__getstate__``,
``__setstate__``, ``__reduce__``, ``copyreg``), except state setters (``__reduce__``
with six items). Classes and functions must be defined at the top level of an
importable module.

Loading runs code: reading the text evaluates only the form's own notation (not
arbitrary Python), but rebuilding the graph imports the modules and calls the classes
and factories the text names, as unpickling does. Load only files you trust.

Tests: tests/persisted/test_aot.py.
"""

from __future__ import annotations

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
)
from torsion.persisted._aotsource import parseSource, renderSource
from torsion.persisted._jelly import jellyToAOT
from torsion.persisted._unjelly import unjellyFromAOT
from torsion.persisted.error import NotPersistableError

__all__ = [
    "Class",
    "Copyreg",
    "Deref",
    "FrozenSet",
    "Function",
    "Instance",
    "InstanceMethod",
    "Module",
    "Named",
    "Ref",
    "Set",
    "jellyToAOT",
    "jellyToSource",
    "prettify",
    "unjellyFromAOT",
    "unjellyFromSource",
]


def jellyToSource(obj: object, file: Any = None) -> str:
    """Return the Python source form of ``obj``'s graph (``app = ...``).

    If ``file`` (an object with ``write(str)``) is given, the source is written to it too.

    Raises:
        NotPersistableError: something in the graph cannot be saved (the message says
            what, and where below the root), or the graph is nested too deeply for
            Python to read it back.
    """
    tree = jellyToAOT(obj)
    try:
        text = renderSource(tree)
    except RecursionError:
        raise NotPersistableError(
            "the object graph is nested too deeply for the source form; use the pickle form"
        ) from None
    if file is not None:
        file.write(text)
    return text


def unjellyFromSource(stringOrFile: Any, filename: str = "<source>") -> Any:
    """Rebuild the graph that source made by ``jellyToSource`` describes.

    ``stringOrFile`` is the text, or a file object to read it from. This imports and
    calls what the text names: use it only on text you trust.

    Raises:
        FormatError: the text is not the source form (the message names the line), or
            names something that cannot be found.
    """
    if hasattr(stringOrFile, "read"):
        filename = getattr(stringOrFile, "name", filename)
        stringOrFile = stringOrFile.read()
    if isinstance(stringOrFile, bytes):
        stringOrFile = stringOrFile.decode("utf-8")
    return unjellyFromAOT(parseSource(stringOrFile, filename), filename)


def prettify(tree: Any) -> str:
    """Return the source form of an abstract object tree (without the ``app =``)."""
    return renderSource(tree).partition(" = ")[2].rstrip("\n")
