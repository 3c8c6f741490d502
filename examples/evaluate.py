"""Evaluate saved models on FER2013: the same as `fercnn evaluate` (see its --help).

    python examples/evaluate.py --data path/to/fer2013 runs/deep_fer2013/checkpoints/epoch*.npz
"""
import sys

from fercnn.cli import main

if __name__ == "__main__":
    main(["evaluate", *sys.argv[1:]])
