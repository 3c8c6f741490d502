"""A small training run for tests/test_resume_kill.py, killed and resumed as a process.

    python tests/train/resume_worker.py OUT_DIR [--resume] [--step-sleep SECONDS]

Trains a small batchnorm + dropout ConvNet on 16x16 drawn faces, checkpointing every two
iterations into OUT_DIR/checkpoints, and saves the final (best) model to OUT_DIR/final.npz.
--step-sleep slows every step down (it changes no number), so that a kill lands mid-run.
"""
import argparse
import os
import time

from fercnn.data import make_synthetic_faces, preprocess
from fercnn.models import ConvNet
from fercnn.train.solver import Solver


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--step-sleep", type=float, default=0.0)
    args = p.parse_args()
    raw = {}
    for split, n, seed in (("train", 64, 1), ("val", 28, 2)):
        X, y = make_synthetic_faces(n, seed=seed)
        raw[f"X_{split}"], raw[f"y_{split}"] = X[:, ::3, ::3], y  # 48x48 -> 16x16
    data = preprocess(raw)
    model = ConvNet(conv=[{"filters": 6, "kernel": 3, "batchnorm": True, "dropout": 0.2, "pool": True}],
                    fc=[{"units": 16, "batchnorm": True, "dropout": 0.5}], input_shape=(1, 16, 16), seed=3)
    solver = Solver(model, data, optim_config={"learning_rate": 0.02}, lr_decay=0.9, batch_size=16, num_epochs=4,
                    augment_flip=True, num_train_samples=40, bn_recalibration=32, verbose=False,
                    checkpoint_dir=os.path.join(args.out, "checkpoints"), checkpoint_every=2)
    if args.step_sleep:
        step = solver._step

        def slow_step(idx):
            time.sleep(args.step_sleep)
            return step(idx)
        solver._step = slow_step
    solver.train(resume=args.resume)
    model.save(os.path.join(args.out, "final.npz"))


if __name__ == "__main__":
    main()
