"""Micro-benchmarks of Percept's hot paths (``percept bench``)."""

from percept.benchmark.codecs import format_report, run_codec_benchmark

__all__ = ["format_report", "run_codec_benchmark"]
