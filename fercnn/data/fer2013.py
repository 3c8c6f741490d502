"""FER2013 loading and the paper's preprocessing.

FER2013 comes in two forms: the original ``fer2013.csv`` (columns emotion,pixels,Usage) and
the Kaggle image folders (train/<class>/Training_*.jpg, test/<class>/PublicTest_*.jpg and
PrivateTest_*.jpg). Both load to the same dict. Splits follow the paper: Training for
training, PublicTest for validation, PrivateTest for test.
"""
import contextlib
import csv
import hashlib
import os
import warnings

import numpy as np

from fercnn.fileio import atomic_write, read_arrays

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_PREFIXES = {"train": ("Training",), "test": ("PublicTest", "PrivateTest")}
SIDE = 48  # FER2013's faces are SIDE x SIDE pixels; so are the face crops fercnn makes of photos


def load_fer2013(path, *, cache_dir=None, use_cache=True):
    """Load FER2013 from ``fer2013.csv`` or from the Kaggle image folders.

    path: the csv file; or a folder holding train/ and test/ (or a fer2013/ folder or a
    fer2013.csv with them). Returns {X_train, y_train, X_val, y_val, X_test, y_test,
    class_names}: X uint8 (N, 48, 48), y int64 in the order 0 angry, 1 disgust, 2 fear,
    3 happy, 4 sad, 5 surprise, 6 neutral.
    Decoded arrays are cached in a compressed .npz under ``cache_dir`` (default
    $FERCNN_CACHE or ~/.cache/fercnn), keyed by the files' names, sizes and times.
    """
    source, kind = _resolve(path)
    files = [source] if kind == "csv" else _list_images(source)
    cache_path = None
    if use_cache:
        cache_dir = cache_dir or os.environ.get("FERCNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fercnn")
        cache_path = os.path.join(cache_dir, f"fer2013_{_fingerprint(source, files)}.npz")
        data = _read_cache(cache_path)
        if data is not None:
            data["class_names"] = list(CLASS_NAMES)
            return data
    data = _read_csv(source) if kind == "csv" else _read_folders(source, files)
    if cache_path:
        _write_cache(cache_path, data)
    data["class_names"] = list(CLASS_NAMES)
    return data


def _write_cache(path, data):
    """Write the cache; a folder that cannot be written is reported (RuntimeWarning naming
    it and why) and the data is used uncached: the cache saves time, it is not the data."""
    try:
        with atomic_write(path) as f:
            np.savez_compressed(f, **data)
    except OSError as e:
        folder = os.path.dirname(path)
        reason = f"{folder} is not a folder" if os.path.exists(folder) and not os.path.isdir(folder) else e.strerror or e
        warnings.warn(f"cannot write the FER2013 cache {path} ({reason}); going on without it (give "
                      "--cache-dir or FERCNN_CACHE a folder that can be written)", RuntimeWarning, stacklevel=3)


_CACHE_KEYS = {f"{a}_{split}" for a in "Xy" for split in ("train", "val", "test")}


def _read_cache(path):
    """The cached arrays, or None when there is no cache file. A cut-short or corrupt one
    is reported (RuntimeWarning naming it), deleted, and None is returned: it is rebuilt."""
    if not os.path.exists(path):
        return None
    try:
        data = read_arrays(path)
        if set(data) != _CACHE_KEYS:
            raise ValueError(f"entries {sorted(data)}, expected {sorted(_CACHE_KEYS)}")
    except ValueError as e:
        warnings.warn(f"FER2013 cache {path} is corrupt ({e}); rebuilding it from the data",
                      RuntimeWarning, stacklevel=3)
        with contextlib.suppress(OSError):  # a read-only cache folder: it is rebuilt in memory only
            os.remove(path)
        return None
    return data


def is_fer2013(path):
    """Whether ``path`` is FER2013 in one of the forms load_fer2013 reads (a csv, a folder
    with fer2013.csv, or train/ and test/ folders of Training_* / PublicTest_* images)
    rather than a folder of one's own faces (fercnn.data.folders). A path that does not exist
    counts as FER2013, whose loader says so."""
    path = os.fspath(path)
    if not os.path.exists(path) or os.path.isfile(path):
        return True
    found = _find(path)
    if found is None:
        return False
    source, kind = found
    if kind == "csv":
        return True
    train = os.path.join(source, "train")
    if not (os.path.isdir(train) and os.path.isdir(os.path.join(source, "test"))):
        return False  # e.g. your own train/ and val/ folders
    for class_dir in sorted(os.listdir(train)):
        if os.path.isdir(os.path.join(train, class_dir)):
            names = sorted(f for f in os.listdir(os.path.join(train, class_dir)) if not f.startswith("."))
            return bool(names) and names[0].startswith("Training_")
    return False


def _resolve(path):
    """(source, kind) of the FER2013 at ``path``: (csv file, "csv") or (folder with train/ and
    test/, "folders"); ValueError naming the path when it holds neither."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"load_fer2013: path does not exist: {path}")
    if os.path.isfile(path):
        return path, "csv"
    found = _find(path)
    if found is None:
        raise ValueError(f"load_fer2013: {path} holds neither fer2013.csv nor train/ and test/ image folders")
    return found


def _find(folder):
    """Where FER2013 would be in ``folder`` or its fer2013/ subfolder: (the folder with train/
    or test/, "folders"), or (its fer2013.csv, "csv"); None if neither is there."""
    for candidate in (folder, os.path.join(folder, "fer2013")):
        if os.path.isdir(os.path.join(candidate, "train")) or os.path.isdir(os.path.join(candidate, "test")):
            return candidate, "folders"
        if os.path.isfile(os.path.join(candidate, "fer2013.csv")):
            return os.path.join(candidate, "fer2013.csv"), "csv"
    return None


def _fingerprint(source, files):
    h = hashlib.sha1(os.path.abspath(source).encode())
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.relpath(f, source)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _empty_splits():
    return {split: ([], []) for split in ("train", "val", "test")}


def stack_split(images, labels):
    """One split's lists of uint8 (48, 48) images and int labels as arrays: X uint8
    (N, 48, 48) (no images: (0, 48, 48)) and y int64 (N,)."""
    return (np.stack(images) if images else np.zeros((0, SIDE, SIDE), np.uint8)), np.array(labels, dtype=np.int64)


def _stack(parts):
    data = {}
    for split, (images, labels) in parts.items():
        data[f"X_{split}"], data[f"y_{split}"] = stack_split(images, labels)
    return data


def _read_csv(path):
    with open(path, "rb") as f:
        reader = csv.reader(_utf8_lines(f, path))
        try:
            return _read_rows(path, reader)
        except csv.Error as e:  # a field longer than csv's limit, say
            raise ValueError(f"{path}: line {reader.line_num}: not a readable csv row ({e})") from None


def _utf8_lines(f, path):
    """The lines of the binary file ``f`` as text, one at a time, so that bytes that are not
    UTF-8 are refused with their line (a spreadsheet's byte-order mark is no header)."""
    for number, raw in enumerate(f, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: line {number}: not UTF-8 text ({e.reason} at byte {e.start + 1}: "
                             f"{raw[e.start:e.end]!r})") from None


def _read_rows(path, reader):
    parts = _empty_splits()
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:3]] != ["emotion", "pixels", "Usage"]:
        raise ValueError(f"{path}: line 1: expected the header 'emotion,pixels,Usage', got {header!r}")
    for line, row in enumerate(reader, start=2):
        if not any(field.strip() for field in row):  # a blank line (e.g. at the end) holds no example
            continue
        if len(row) != 3:
            raise ValueError(f"{path}: line {line}: expected 3 fields (emotion,pixels,Usage), got {len(row)}")
        emotion, pixels, usage = row
        try:
            label = int(emotion)
        except ValueError:
            raise ValueError(f"{path}: line {line}: emotion must be an integer 0-6, got {emotion!r}") from None
        if not 0 <= label < len(CLASS_NAMES):
            raise ValueError(f"{path}: line {line}: unknown emotion code {label}; valid codes are 0-6")
        if usage not in USAGE_TO_SPLIT:
            raise ValueError(f"{path}: line {line}: unknown Usage {usage!r}; valid are {sorted(USAGE_TO_SPLIT)}")
        values = pixels.split()
        if len(values) != SIDE * SIDE:
            raise ValueError(f"{path}: line {line}: expected {SIDE * SIDE} pixels, got {len(values)}")
        try:
            image = np.array(values, dtype=np.int64)
        except (ValueError, OverflowError):  # a word, a fraction, a number past int64
            bad = next((v for v in values if not (v.isascii() and v.lstrip("-").isdigit() and len(v) < 10)), values[0])
            raise ValueError(f"{path}: line {line}: non-numeric pixel value {bad!r}; "
                             "expected whole numbers 0-255") from None
        if image.min() < 0 or image.max() > 255:
            raise ValueError(f"{path}: line {line}: pixel values must be in 0-255, got {image.min()}..{image.max()}")
        images, labels = parts[USAGE_TO_SPLIT[usage]]
        images.append(image.astype(np.uint8).reshape(SIDE, SIDE))
        labels.append(label)
    if not any(labels for _, labels in parts.values()):
        raise ValueError(f"{path}: no data rows after the header")
    return _stack(parts)


def _list_images(root):
    """Every image file under root/train/<class>/ and root/test/<class>/, checked and sorted.

    Hidden files (names starting with '.', e.g. .DS_Store) are the only ones passed over.
    """
    files = []
    for top in ("train", "test"):
        top_dir = os.path.join(root, top)
        if not os.path.isdir(top_dir):
            raise ValueError(f"load_fer2013: {root} has no {top}/ folder")
        entries = sorted(e for e in os.listdir(top_dir) if not e.startswith("."))
        if not entries:
            raise ValueError(f"load_fer2013: folder is empty: {top_dir}")
        for name in entries:
            class_dir = os.path.join(top_dir, name)
            if not os.path.isdir(class_dir) or name.lower() not in CLASS_NAMES:
                raise ValueError(f"load_fer2013: unknown class folder {class_dir}; expected one of {list(CLASS_NAMES)}")
            images = sorted(f for f in os.listdir(class_dir) if not f.startswith("."))
            if not images:
                raise ValueError(f"load_fer2013: folder is empty: {class_dir}")
            for f in images:
                prefix = f.split("_", 1)[0]
                if prefix not in FOLDER_PREFIXES[top]:
                    raise ValueError(f"load_fer2013: {os.path.join(class_dir, f)}: file names in {top}/ must start "
                                     f"with {' or '.join(p + '_' for p in FOLDER_PREFIXES[top])}")
                files.append(os.path.join(class_dir, f))
    return files


def _read_folders(root, files):
    from PIL import Image, UnidentifiedImageError

    parts = _empty_splits()
    for path in files:
        label = CLASS_NAMES.index(os.path.basename(os.path.dirname(path)).lower())
        split = USAGE_TO_SPLIT[os.path.basename(path).split("_", 1)[0]]
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode not in ("L", "RGB", "RGBA", "P", "LA"):
                    raise ValueError(f"unsupported image mode {im.mode}")
                image = np.asarray(im.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise ValueError(f"load_fer2013: cannot read image {path}: {e}") from None
        if image.shape != (SIDE, SIDE):
            raise ValueError(f"load_fer2013: {path} is {image.shape[1]}x{image.shape[0]}, expected {SIDE}x{SIDE}")
        parts[split][0].append(image)
        parts[split][1].append(label)
    return _stack(parts)


def summarize(data):
    """A table of how many images each split holds, per class."""
    names = data.get("class_names", CLASS_NAMES)
    splits = [s for s in ("train", "val", "test") if f"y_{s}" in data]
    lines = [f"{'class':<10}" + "".join(f"{s:>8}" for s in splits)]
    for k, name in enumerate(names):
        lines.append(f"{name:<10}" + "".join(f"{int(np.sum(data[f'y_{s}'] == k)):>8}" for s in splits))
    lines.append(f"{'total':<10}" + "".join(f"{len(data[f'y_{s}']):>8}" for s in splits))
    return "\n".join(lines)
