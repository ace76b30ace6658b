"""Command-line tools, each a module with a ``run(argv)`` entry point (``tapconvert``)."""
