"""Shared pytest configuration: the pytester fixture for the trial kit's tests."""

pytest_plugins = ["pytester"]
