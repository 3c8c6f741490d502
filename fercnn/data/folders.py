"""Your own labelled faces: a folder of class subfolders, loaded like FER2013.

Two layouts are read:

    my_faces/<class>/*                      split here: seeded and stratified
    my_faces/train/<class>/*, my_faces/val/<class>/* [, my_faces/test/<class>/*]

The classes are the subfolder names (any set of at least two), sorted. Images may have any
size and colour; each becomes a 48x48 grayscale face, either the whole image resized or,
with detect=True, the largest face found in it. The result is the dict load_fer2013
returns: X_* uint8 (N, 48, 48), y_* int64, class_names.
"""
import os
import warnings

import numpy as np

from fercnn.data.faces import find_faces, read_image
from fercnn.data.fer2013 import stack_split

SPLITS = ("train", "val", "test")


def load_image_folder(path, *, detect=False, min_face=48, val_fraction=0.15, test_fraction=0.15, seed=0,
                      max_pixels=None):
    """Load a folder of class subfolders (see the module docstring).

    detect: crop each image to its largest detected face; images where none is found are
    left out and listed in the result's "no_face" entry (and in a RuntimeWarning).
    val_fraction, test_fraction: the share of each class put into validation and test when
    the folder has no train/ and val/ subfolders (seeded by ``seed``; at least one image
    of each class goes to each split whose fraction is above 0).
    max_pixels: an image of more pixels is refused before it is decoded (fercnn.data.read_image).

    A class is a folder's name as it is: a name with a newline or another control
    character is refused (it would break every table that lists the classes). Names that
    start with '.' are hidden and passed over: files silently (.DS_Store), folders with a
    RuntimeWarning naming them (a folder called "..." is no class).
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ValueError(f"{root}: no such folder" if not os.path.exists(root) else f"{root}: not a folder")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"load_image_folder: {name} must be in [0, 1), got {f!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"load_image_folder: val_fraction + test_fraction must be below 1, "
                         f"got {val_fraction} + {test_fraction}")
    entries = _visible(root, warn=False)
    if "train" in entries:
        _visible(root)  # the splits' folder: say which hidden folders are passed over
        if "val" not in entries:
            raise ValueError(f"{root}: has train/ but no val/; give both (and optionally test/), "
                             "or put the class folders directly in it to have them split")
        extra = sorted(set(entries) - set(SPLITS))
        if extra:
            raise ValueError(f"{root}: expected only train/, val/ and test/ beside each other, also found {extra}")
        files = {s: _class_files(os.path.join(root, s)) for s in SPLITS if s in entries}
        names = sorted(files["train"])
        for split, classes in files.items():
            unknown = sorted(set(classes) - set(names))
            if unknown:
                raise ValueError(f"{os.path.join(root, split)}: classes {unknown} have no folder in train/")
    else:
        by_class = _class_files(root)
        names = sorted(by_class)
    if len(names) < 2:
        raise ValueError(f"{root}: found one class ({names[0]}); a classifier needs at least two class folders")
    if "train" not in entries:
        files = _split(by_class, val_fraction, test_fraction, seed, root)
    data, no_face = {"class_names": names}, []
    for split in SPLITS:
        images, labels = [], []
        for k, name in enumerate(names):
            for f in files.get(split, {}).get(name, []):
                face = _face(f, detect, min_face, max_pixels)
                if face is None:
                    no_face.append(f)
                    continue
                images.append(face)
                labels.append(k)
        data[f"X_{split}"], data[f"y_{split}"] = stack_split(images, labels)
    if no_face:
        shown = ", ".join(no_face[:10]) + (f" and {len(no_face) - 10} more" if len(no_face) > 10 else "")
        warnings.warn(f"no face found in {len(no_face)} image(s), left out: {shown}", RuntimeWarning, stacklevel=2)
    data["no_face"] = no_face
    for split in ("train", "val"):
        if len(data[f"y_{split}"]) == 0:
            raise ValueError(f"{root}: no {split} images are left" + (" after face detection" if no_face else ""))
    return data


def _visible(folder, *, warn=True):
    """The entries of ``folder`` not hidden (names starting with '.'); with ``warn``, hidden
    folders are named in a RuntimeWarning (hidden files are passed over without one)."""
    entries = sorted(os.listdir(folder))
    hidden = [e for e in entries if e.startswith(".") and os.path.isdir(os.path.join(folder, e))]
    if hidden and warn:
        warnings.warn(f"{folder}: passing over hidden folder(s) {hidden}: names starting with '.' are not read as "
                      "classes or splits; rename them to use them", RuntimeWarning, stacklevel=3)
    return [e for e in entries if not e.startswith(".")]


def _check_class_name(folder, name):
    if not name.isprintable():
        raise ValueError(f"{folder}: class folder {name!r} has a newline or another control character in its name; "
                         "rename it (class names appear in tables and model files)")


def _class_files(folder):
    """{class name: sorted image paths} of the class subfolders of ``folder``."""
    found = {}
    names = _visible(folder)
    if not names:
        raise ValueError(f"{folder}: empty; expected one subfolder per class")
    for name in names:
        class_dir = os.path.join(folder, name)
        _check_class_name(folder, name)
        if not os.path.isdir(class_dir):
            raise ValueError(f"{class_dir}: expected only class folders in {folder}, found a file")
        files = []
        for f in _visible(class_dir):
            p = os.path.join(class_dir, f)
            if os.path.isdir(p):
                raise ValueError(f"{p}: a folder inside class folder {class_dir}; put the images directly in it")
            files.append(p)
        if not files:
            raise ValueError(f"{class_dir}: class folder with no images")
        found[name] = files
    return found


def _split(by_class, val_fraction, test_fraction, seed, root):
    """Per class, a seeded shuffle cut into train / val / test by the fractions."""
    rng = np.random.default_rng(seed)
    files = {s: {} for s in SPLITS}
    for name in sorted(by_class):
        paths = by_class[name]
        order = rng.permutation(len(paths))
        # every class is in every split asked for: at least one image each
        n_val, n_test = (max(1, round(len(paths) * f)) if f > 0 else 0 for f in (val_fraction, test_fraction))
        if len(paths) - n_val - n_test < 1:
            raise ValueError(f"{os.path.join(root, name)}: {len(paths)} image(s) cannot be split into train, "
                             f"val ({val_fraction:g}) and test ({test_fraction:g}); add images or lower the fractions")
        cuts = np.split(order, [n_val, n_val + n_test])
        for split, idx in zip(("val", "test", "train"), cuts):
            files[split][name] = [paths[i] for i in sorted(idx)]
    return files


def _face(path, detect, min_face, max_pixels=None):
    """The image's largest face (or the whole image) as uint8 (48, 48); None if no face is found."""
    try:
        _, crops = find_faces(read_image(path, max_pixels=max_pixels), detect=detect, min_face=min_face)
    except ValueError as e:
        raise ValueError(str(e) if str(e).startswith(path) else f"{path}: {e}") from None
    return crops[0] if len(crops) else None
