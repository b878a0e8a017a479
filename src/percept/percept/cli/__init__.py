"""The ``percept`` command line: one module per subcommand, each a thin layer on a library call."""

__all__: list[str] = []
