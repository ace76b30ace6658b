"""Tests for torsion.enterprise."""
