"""Paths confined to the watched root, and what a file *is* (its identity: its layout's fields, or its
path under that root).

Nothing a folder holds is believed: a name with `..`, a symbolic link anywhere between the root and the
file, or a path that resolves outside the root is refused with an InputError naming the file. Symbolic
links are refused even when their target stays inside the root: an instrument writes files, not links,
and the target inside the root is ingested under its own name anyway (following the link would ingest
it twice, under two identities).

Checking a path and then opening it by name would leave a window in which a directory is swapped for a
link. `open_confined` closes it: it walks down from the root one component at a time with
`O_NOFOLLOW` (`openat` through `dir_fd`), so the descriptor it returns is the file inside the root or
nothing. The ingest hashes through that descriptor and compares the hash with what the object store
copied, so a swap between the two reads is caught as "file changed while it was being ingested".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from labstream.core.errors import InputError
from labstream.layouts import UNKNOWN, detect, get_layout

_HINT = "only regular files inside the watched folder are ingested; copy the file itself into it"
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def relative_parts(root: Path, path: Path) -> tuple[str, ...]:
    """The components of `path` below `root`, lexically (no filesystem access); refuses `..`,
    absolute paths elsewhere and the root itself."""
    root = Path(os.path.abspath(root))
    full = Path(os.path.abspath(root / path)) if not path.is_absolute() else path
    if ".." in path.parts:
        raise InputError(str(path), "path contains '..'", hint=_HINT)
    try:
        parts = full.relative_to(root).parts
    except ValueError as err:
        raise InputError(str(path), f"outside the watched folder {root}", hint=_HINT) from err
    if not parts:
        raise InputError(str(path), "is the watched folder itself, not a file in it", hint=_HINT)
    return parts


def file_identity(root: str | Path, path: str | Path) -> str:
    """What an instrument file is. Where its layout's fields name it completely (a plate's well, site
    and channel: `Layout.identifies`), those fields (`site-tiff:plate=P1,well=A01,site=1,channel=1`),
    so the same file copied into two folders is one file; otherwise its normalised relative path under
    the watched root (`run7/S1_R1.fastq.gz`), posix separators, case kept."""
    relative = PurePosixPath(*relative_parts(Path(root), Path(path))).as_posix()
    try:
        found = detect(relative)
    except InputError:  # a known layout with an impossible value: ingest quarantines it by path
        return relative
    if found.layout != UNKNOWN and get_layout(found.layout).identifies:
        return found.name
    return relative


def open_confined(root: str | Path, path: str | Path) -> int:
    """A read-only descriptor of the regular file `path` inside `root`, reached without following any
    symbolic link; InputError naming the file otherwise. The caller closes it."""
    root, path = Path(root), Path(path)
    parts = relative_parts(root, path)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError as err:
                raise InputError(str(path), "file vanished while it was being ingested") from err
            if stat.S_ISLNK(st.st_mode):
                where = "is" if last else f"is inside {name!r}, which is"
                raise InputError(str(path), _link_problem(root, path, where), hint=_HINT)
            if last and not stat.S_ISREG(st.st_mode):
                raise InputError(str(path), "not a regular file", hint=_HINT)
            try:
                nxt = os.open(name, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as err:  # ELOOP: it became a link after the stat
                raise InputError(
                    str(path), f"cannot be opened inside the watched folder ({err.strerror})", hint=_HINT
                ) from err
            os.close(fd)
            fd = nxt
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(str(path), "not a regular file", hint=_HINT)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def check_confined(root: str | Path, path: str | Path) -> None:
    """Raise InputError unless `path` is a regular file inside `root` reached without links."""
    os.close(open_confined(root, path))


def _link_problem(root: Path, path: Path, where: str) -> str:
    """Name the link and say whether it leaves the root; never read what it points to."""
    try:
        target = Path(os.path.realpath(path))
        inside = target.is_relative_to(Path(os.path.realpath(root)))
    except OSError:
        inside = False
    if inside:
        return f"{where} a symbolic link (to a file inside the watched folder, ingested under its own name)"
    return f"{where} a symbolic link leading outside the watched folder: refused"


__all__ = ["check_confined", "file_identity", "open_confined", "relative_parts"]
