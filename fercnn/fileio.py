"""Files written so that a kill at any instant leaves the old file or the new one, never a torn one.

Every file fercnn writes (models, checkpoints, histories, results, the FER2013 cache,
plots) goes through ``atomic_write``: the bytes go to a temporary file in the same folder,
are flushed and fsync'ed, and only then is the temporary file renamed over the target with
``os.replace``, which is atomic on POSIX and Windows file systems.
"""
import contextlib
import json
import os
import tempfile

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
