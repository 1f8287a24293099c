"""Benchmarks that print ratios against plain PyTorch (`make bench`); not timed tests."""
