"""Train the paper's hybrid network: CNN + HOG features (--preset shallow or deep).

    python examples/train_hybrid.py                        # synthetic faces
    python examples/train_hybrid.py --data path/to/fer2013 # the paper's third experiment
"""
from fercnn.cli.experiment import cli

if __name__ == "__main__":
    cli("shallow", hog=True)
