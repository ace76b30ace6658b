"""The pytest plugin that torsion registers (entry point ``pytest11``)."""
