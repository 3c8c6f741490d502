"""Tests of fercnn/layers/, one file per module; what every op shares is in tests/test_ops.py."""
