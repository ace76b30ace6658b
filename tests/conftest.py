"""Shared pytest configuration: pytester for the trial kit's tests, and the logging
fixtures (``cest``, ``stdlibLogger``) of tests/logger/helpers.py for every test."""

pytest_plugins = ["pytester", "tests.logger.helpers"]
