"""Tests of fercnn/fast/ beyond what every op shares (tests/test_ops.py: fast equals readable)."""
