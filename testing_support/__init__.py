"""Helpers the tests and the benchmarks share; nothing here is imported by the app."""
