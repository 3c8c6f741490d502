"""Train the paper's deep network: synthetic faces by default, FER2013 with --data PATH.

    python examples/train_deep.py                        # synthetic faces
    python examples/train_deep.py --data path/to/fer2013 # the paper's experiment
    python examples/train_deep.py --help                 # every hyper-parameter
"""
from fercnn.cli import train_script

if __name__ == "__main__":
    train_script("deep")
