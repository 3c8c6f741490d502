"""The faces a sweep trains on, loaded once by the driver and handed to every trial through
Ray's object store (so the nodes of a cluster need no copy of the data)."""
import numpy as np

from fercnn.data import CLASS_NAMES, is_fer2013, load_fer2013, load_image_folder, make_synthetic_faces

SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}  # as fercnn train's synthetic faces


def load_faces(d):
    """uint8 faces and labels per split and class_names, from [data] of a checked spec:
    the synthetic faces (train/val/test faces drawn with seed [seed, split]), FER2013 or a
    folder of your own faces (train/val/test: that many faces of the split, drawn at random
    with seed [seed, split], in their order: the folders list their faces class by class,
    so the first ones would all be angry)."""
    if d["source"] == "synthetic":
        raw = {"class_names": list(CLASS_NAMES)}
        for split, seed in SPLIT_SEEDS.items():
            raw[f"X_{split}"], raw[f"y_{split}"] = make_synthetic_faces(d[split], seed=[d["seed"], seed])
        return raw
    if d["source"] == "fer2013":
        if not is_fer2013(d["path"]):
            raise ValueError(f"data.path: {d['path']} is not FER2013 (fer2013.csv, or a folder with train/ and test/)")
        raw = load_fer2013(d["path"], cache_dir=d["cache_dir"])
    else:
        raw = load_image_folder(d["path"], detect=d["detect_faces"], min_face=d["min_face"],
                                val_fraction=d["val_fraction"], test_fraction=d["test_fraction"], seed=d["seed"])
    for split, seed in SPLIT_SEEDS.items():
        n = d[split]
        if n is not None and f"y_{split}" in raw and n < len(raw[f"y_{split}"]):
            keep = np.sort(np.random.default_rng([d["seed"], seed]).choice(len(raw[f"y_{split}"]), n, replace=False))
            raw[f"X_{split}"], raw[f"y_{split}"] = raw[f"X_{split}"][keep], raw[f"y_{split}"][keep]
    return raw


def describe(d, raw):
    """'synthetic faces: 300 train, 140 val, 140 test' and the like."""
    what = {"synthetic": "synthetic faces", "fer2013": f"FER2013 from {d['path']}",
            "folder": f"your faces from {d['path']}"}[d["source"]]
    sizes = ", ".join(f"{len(raw[f'y_{s}'])} {s}" for s in ("train", "val", "test") if f"y_{s}" in raw)
    return f"{what}: {sizes}"
