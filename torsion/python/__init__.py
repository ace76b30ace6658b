"""Python-level helpers shared by every part of torsion (failures, logging, context)."""
