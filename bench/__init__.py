"""Benchmarks that run freehold side by side with its peers (moto_server, MiniStack) in one run.

`python -m bench.run --help` is the entry point; bench/README.md says how to use it and
docs/benchmarks.md holds the numbers of the last published run.
"""
