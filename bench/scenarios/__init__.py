"""Benchmark scenarios: every module here is imported by `bench.registry.discover()`."""
