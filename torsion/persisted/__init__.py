"""Saving and loading object graphs: persisted applications and their file formats.

- ``sob``: ``Persistent``/``IPersistable`` (save an object as NAME.tap, .tas or .tax,
  optionally encrypted), ``load``, ``loadValueFromFile`` (a .tac file) and ``guessType``.
- ``styles``: ``Versioned`` (upgrade old state), ``Ephemeral`` (never persisted) and the
  pickling of modules and bound methods.
- ``aot``: the readable Python-source form of an object graph (.tas).
- ``marmalade``: the XML form of the same graph (.tax).

Loading a .tap (pickle), .tas (source) or .tax (XML) file imports the modules and calls
the constructors it names, so it runs code: load only files you trust.

The user guide is docs/persistence.md. Tests: tests/persisted/.
"""
