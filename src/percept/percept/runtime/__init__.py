"""The local runtime: an in-process, deterministic executor for nodes (replay, tests, demo)."""

__all__: list[str] = []
