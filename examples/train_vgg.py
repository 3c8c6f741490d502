"""Train the accuracy network: four VGG-style stages of two 3x3 convs, inside the paper's template.

    python examples/train_vgg.py                        # synthetic faces
    python examples/train_vgg.py --data path/to/fer2013 --augment-flip --augment-shift 4 --augment-rotate 10 \
        --augment-scale 0.1 --augment-erase 0.5 --no-flip-double --lr-schedule plateau --nesterov --epochs 100
"""
from fercnn.cli import train_script

if __name__ == "__main__":
    train_script("vgg")
