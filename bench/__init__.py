"""Benchmarks, each runnable as `python -m bench.<name>`; bench/README.md describes the S3 inventory one (bench.run)."""
