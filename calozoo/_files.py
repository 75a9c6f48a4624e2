"""Output files written safely: checked before any work, written under a temporary name,
published without clobbering, and leftovers of killed runs cleared by the next run.

A temporary file is ``.<name>.<host>.<pid>.<random>.part`` beside its target, so a run can tell
whose leftovers it sees: those of a process of this host that no longer runs are removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUFFIX = ".part"


def _read_umask() -> int:
    mask = os.umask(0)      # read once, at import, before other threads exist
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def check_output(path: str | os.PathLike, *, overwrite: bool, what: str = "output",
                 folder_ok: bool = False) -> Path:
    """Refuse an output path that cannot or must not be written, before any work.

    Raises ``ValueError`` for an empty path or a folder given as a file, ``FileExistsError``
    for an existing output without ``overwrite``, ``FileNotFoundError`` for a missing parent
    folder.
    """
    if path is None or str(path).strip() == "":
        raise ValueError(f"the {what} path is empty")
    target = Path(os.path.abspath(path))
    if folder_ok and target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file; the {what} must be a folder")
    if target.is_dir() and not folder_ok:
        raise ValueError(f"{target} is a folder; the {what} must name a file")
    if folder_ok and target.is_dir():
        if any(target.iterdir()) and not overwrite:
            raise FileExistsError(f"{target} exists and is not empty; pass --overwrite "
                                  "(overwrite=True) to replace what is in it")
    elif os.path.lexists(target) and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite (overwrite=True) to "
                              "replace it")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{parent}: output folder does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{parent}: output folder is not writable")
    return target


def _prefix(target: Path) -> str:
    return f".{target.name}.{socket.gethostname().replace('.', '_')}."


def clear_leftovers(target: Path) -> list[Path]:
    """Remove the temporary files of ``target`` left by dead processes of this host."""
    parent = target.parent if str(target.parent) else Path(".")
    prefix = _prefix(target)
    pattern = re.compile(r"(\d{1,10})\.[A-Za-z0-9_]+" + re.escape(SUFFIX))
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        found = pattern.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
        if found is None or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True     # not ours to judge: keep it
    return True


def temporary_file(target: Path) -> Path:
    """A new, empty temporary file beside ``target`` (mode of an ordinary new file)."""
    clear_leftovers(target)
    parent = target.parent if str(target.parent) else Path(".")
    descriptor, name = tempfile.mkstemp(prefix=f"{_prefix(target)}{os.getpid()}.",
                                        suffix=SUFFIX, dir=parent)
    os.close(descriptor)
    os.chmod(name, 0o666 & ~_UMASK)   # mkstemp makes files private
    return Path(name)


def temporary_folder(target: Path) -> Path:
    """A new temporary folder beside ``target``."""
    clear_leftovers(target)
    parent = target.parent if str(target.parent) else Path(".")
    folder = tempfile.mkdtemp(prefix=f"{_prefix(target)}{os.getpid()}.", suffix=SUFFIX,
                              dir=parent)
    os.chmod(folder, 0o777 & ~_UMASK)     # mkdtemp makes folders private
    return Path(folder)


def publish(temporary: Path, target: Path, *, overwrite: bool) -> Path:
    """Give a finished temporary file its name; without ``overwrite`` never replace a file
    that appeared meanwhile (another run writing the same output)."""
    if overwrite:
        os.replace(temporary, target)
        return target
    try:
        os.link(temporary, target)
    except FileExistsError:
        temporary.unlink(missing_ok=True)
        raise FileExistsError(f"{target} was created by another process while this one ran; "
                              "it was not replaced (pass --overwrite to replace it)") from None
    except OSError:   # a file system without hard links
        if target.exists():
            temporary.unlink(missing_ok=True)
            raise FileExistsError(f"{target} was created by another process while this one "
                                  "ran; it was not replaced") from None
        os.replace(temporary, target)
        return target
    temporary.unlink()
    return target


def publish_folder(temporary: Path, target: Path, *, overwrite: bool) -> Path:
    """Move a finished temporary folder to ``target`` (an absent or empty folder, or, with
    ``overwrite``, a folder whose files of the same names are replaced)."""
    if not target.exists():
        try:
            os.rename(temporary, target)
            return target
        except OSError:
            if not target.exists():
                raise
    if any(target.iterdir()) and not overwrite:
        shutil.rmtree(temporary, ignore_errors=True)
        raise FileExistsError(f"{target} was filled by another process while this one ran; "
                              "nothing was replaced")
    for entry in temporary.iterdir():
        os.replace(entry, target / entry.name)
    temporary.rmdir()
    return target


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, *, overwrite: bool) -> Iterator[Path]:
    """Write a folder's files into a temporary folder; publish it only when all succeeded.

    Missing parent folders are made, and removed again if the writing fails.
    """
    if target is None or str(target).strip() == "":
        raise ValueError("the output folder path is empty")
    absolute = Path(os.path.abspath(target))
    made = []
    for parent in reversed(absolute.parents):
        if not parent.exists():
            parent.mkdir()
            made.append(parent)
    try:
        target = check_output(absolute, overwrite=overwrite, what="output folder",
                              folder_ok=True)
        staging = temporary_folder(target)
        try:
            yield staging
            publish_folder(staging, target, overwrite=overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for parent in reversed(made):
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
