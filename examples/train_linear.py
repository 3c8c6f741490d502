"""The baseline: softmax regression on raw pixels, trained and reported like the CNNs.

    python examples/train_linear.py                        # synthetic faces
    python examples/train_linear.py --data path/to/fer2013
"""
from fercnn.cli import train_script

if __name__ == "__main__":
    train_script("linear")
