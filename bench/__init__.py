"""Benchmarks that print figures (`make bench`); never pass/fail, never run by the tests."""
