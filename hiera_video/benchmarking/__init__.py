"""Measurement helpers behind tools/benchmark.py (timing, memory, matmul peak, model pairs)."""
