"""Files written so that a kill at any instant leaves the old file or the new one, never a torn one,
and .npz files read back whole, so that a damaged one is found out when it is read.

Every file fercnn writes (models, checkpoints, histories, results, the FER2013 cache,
plots) goes through ``atomic_write``: the bytes go to a temporary file in the same folder,
are flushed and fsync'ed, and only then is the temporary file renamed over the target with
``os.replace``, which is atomic on POSIX and Windows file systems. Every .npz file fercnn
reads (models, checkpoints, the FER2013 cache) goes through ``ArrayArchive``, which reads
each entry's header, and so the size it claims, before any array (``read_arrays`` reads
them all, their sizes held to a limit of fercnn.limits).
"""
import contextlib
import io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from fercnn import limits

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

    The entries' headers are read first, and their sizes together are held to the limit
    of fercnn.limits ("bytes", FERCNN_MAX_ARRAY_BYTES) before any array is allocated. A
    truncated or corrupt file, or one that is not an .npz archive of plain arrays, raises
    one ValueError saying what is wrong (never numpy's advice to allow pickles); the
    caller names the file. fercnn.models.io reads model files with ArrayArchive itself,
    sizing their entries by the spec they hold.
    """
    with ArrayArchive(path) as archive:
        name, header = archive.largest()
        limits.check("bytes", archive.total_bytes(), "its arrays hold", " bytes in all"
                     + (f" (the largest, {name}: {header.shape} {header.dtype})" if name else ""))
        return {name: archive.read(name) for name in archive.headers}


class Header:
    """What an entry's .npy header claims: shape, dtype and the bytes of its data."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype
        self.size = math.prod(self.shape)
        self.nbytes = self.size * dtype.itemsize


class ArrayArchive:
    """An .npz file opened for reading, its entries' headers read and checked, no array yet.

        with ArrayArchive("model.npz") as archive:
            archive.headers["param/fc1.w"].shape     # what the file claims, nothing allocated
            w = archive.read("param/fc1.w")           # now the array, its CRC checked

    Each header is read from the entry's first bytes (at most HEADER_BYTES are inflated),
    and must agree with the size the archive's directory gives the entry, which bounds
    what inflating it can produce: an entry cannot claim a small shape and inflate to
    more. Every problem is one ValueError saying what is wrong (the caller names the file).
    """

    HEADER_BYTES = 1 << 16

    def __init__(self, path):
        path = os.fspath(path)
        self._zip = None
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read below
                raise ValueError("not a regular file (a FIFO, device or socket)")
            with open(path, "rb") as f:
                magic = f.read(6)
            if magic == b"\x93NUMPY":
                raise ValueError("a single .npy array, not an .npz archive")
            if not magic.startswith(b"PK"):
                raise ValueError("not an .npz archive of plain arrays")
            self._zip = zipfile.ZipFile(path)
            self.headers, self._infos = {}, {}
            for info in self._zip.infolist():
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise ValueError(f"entry {info.filename!r} is not a .npy array; not an .npz archive of plain arrays")
                name = info.filename[:-4]
                self.headers[name], self._infos[name] = self._header(name, info), info
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                KeyError, NotImplementedError) as e:
            self.close()
            raise ValueError(_reason(e)) from None

    def _header(self, name, info):
        with self._zip.open(info) as f:
            head = io.BytesIO(f.read(self.HEADER_BYTES))
        fmt = np.lib.format
        version = fmt.read_magic(head)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"entry {name}: .npy format version {version[0]}.{version[1]} is not read")
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(head)
        if dtype.hasobject:
            raise ValueError(f"entry {name} holds Python objects; not an .npz archive of plain arrays")
        header = Header(shape, dtype)
        if info.file_size != head.tell() + header.nbytes:
            raise ValueError(f"entry {name}: its header says {header.shape} {dtype} ({header.nbytes:,} bytes), "
                             f"but the archive holds {info.file_size - head.tell():,} bytes of data")
        return header

    def total_bytes(self, names=None):
        """Bytes of the data of the entries ``names`` (default: all), as their headers claim."""
        return sum(self.headers[n].nbytes for n in (self.headers if names is None else names))

    def largest(self, names=None):
        """(name, Header) of the largest of the entries ``names`` (default: all); (None, None) if none."""
        names = list(self.headers if names is None else names)
        if not names:
            return None, None
        name = max(names, key=lambda n: self.headers[n].nbytes)
        return name, self.headers[name]

    def read(self, name):
        """The array of entry ``name``, read in full with its CRC checked (allocates what its header claims)."""
        try:
            with self._zip.open(self._infos[name]) as f:
                array = np.lib.format.read_array(f, allow_pickle=False)
                if f.read(1):
                    raise ValueError(f"entry {name} holds more data than its header says")
            return array
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise ValueError(_reason(e)) from None

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _reason(e):
    text = str(e)
    if "pickle" in text:  # numpy's guess for any non-.npy bytes; never the advice to give here
        return "not an .npz archive of plain arrays"
    if type(e) is ValueError:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
