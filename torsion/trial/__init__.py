"""A unit-testing kit for torsion code: trial-compatible test cases and a pytest plugin."""
