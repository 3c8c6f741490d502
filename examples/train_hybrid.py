"""Train the paper's hybrid network: CNN + HOG features (--preset shallow or deep).

    python examples/train_hybrid.py                        # synthetic faces
    python examples/train_hybrid.py --data path/to/fer2013 # the paper's third experiment
"""
from fercnn.cli import train_script

if __name__ == "__main__":
    train_script("shallow", hog=True)
