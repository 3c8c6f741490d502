"""Files written so that a kill at any instant leaves the old file or the new one, never a torn one,
and .npz files read back whole, so that a damaged one is found out when it is read.

Every file fercnn writes (models, checkpoints, histories, results, the FER2013 cache,
plots) goes through ``atomic_write``: the bytes go to a temporary file in the same folder,
are flushed and fsync'ed, and only then is the temporary file renamed over the target with
``os.replace``, which is atomic on POSIX and Windows file systems. Every .npz file fercnn
reads (models, checkpoints, the FER2013 cache) goes through ``read_arrays``.
"""
import contextlib
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

TMP_MARK = ".tmp-"  # temporary files are named ".<target name>.tmp-<random>"


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file to write ``path``'s new content; on success move it into place.

    with atomic_write("model.npz") as f:
        np.savez(f, ...)

    If the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}{TMP_MARK}")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    """Make the rename itself durable (where the OS lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path, obj, *, indent=None):
    """json.dump ``obj`` to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=indent)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def remove_stale_temporaries(folder):
    """Delete temporary files a killed writer left in ``folder``; returns their names."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in os.listdir(folder):
        if name.startswith(".") and TMP_MARK in name:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))
                removed.append(name)
    return removed


def read_arrays(path):
    """{name: array} of every entry of the .npz ``path``, read in full (which checks every
    CRC), with ``allow_pickle=False``: reading never runs code.

    A truncated or corrupt file, or one that is not an .npz archive of plain arrays, raises
    one ValueError saying what is wrong (never numpy's advice to allow pickles); the
    caller names the file.
    """
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, AttributeError) as e:
        raise ValueError(_reason(e)) from None


def _reason(e):
    text = str(e)
    if "pickle" in text:  # numpy's guess for any non-.npy bytes; never the advice to give here
        return "not an .npz archive of plain arrays"
    if type(e) is ValueError:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
