"""Files the client writes: downloads, and the token files of an upload.

Contract: ``save(chunks, size, path)`` streams a download into a temp file
created (``O_EXCL``, mode 0600) in the target's own folder, and moves it to
``path`` only once exactly ``size`` bytes arrived and were fsynced; a cut or
overlong download deletes the temp file and raises ``IncompleteDownload``, so
a file with the final name is always complete. An existing file is never
replaced unless ``force``. ``download_path(output, name)`` picks the target
from ``-o`` and the server's name, which is reduced to one safe path
component. ``write_secret(path, text)`` writes a token file, mode 0600,
refusing to overwrite.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

FALLBACK_NAME = "download"


class IncompleteDownload(Exception):
    pass


def safe_name(name: str) -> str:
    """One path component: no separators, no NUL or control characters, not '.', '..' or hidden."""
    cleaned = "".join("_" if ch in "/\\" or ord(ch) < 32 or ch == "\x7f" else ch for ch in name)
    cleaned = cleaned.strip().lstrip(".")
    return cleaned or FALLBACK_NAME


def download_path(output: str | None, name: str) -> Path:
    """``-o DIR`` (existing folder) → DIR/name; ``-o FILE`` → FILE; nothing → ./name."""
    if output is None:
        return Path(safe_name(name))
    target = Path(output)
    if target.is_dir():
        return target / safe_name(name)
    if output.endswith(("/", os.sep)):
        raise FileNotFoundError(f"no such folder: {output}")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"no such folder: {target.parent}")
    return target


def save(chunks: Iterable[bytes], size: int | None, path: Path, *, force: bool = False,
         progress: Callable[[int], None] = lambda n: None) -> int:
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists already (use --force to replace it)")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".part")
    try:
        received = 0
        with os.fdopen(fd, "wb") as f:
            for piece in chunks:
                received += len(piece)
                if size is not None and received > size:
                    raise IncompleteDownload(f"the server sent more than the announced {size} bytes")
                f.write(piece)
                progress(len(piece))
            if size is not None and received != size:
                raise IncompleteDownload(f"the download was cut short: {received} of {size} bytes arrived")
            f.flush()
            os.fsync(f.fileno())
        _move(Path(temp), path, force)
    except BaseException:
        _unlink(temp)
        raise
    return received


def write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def _move(temp: Path, path: Path, force: bool) -> None:
    if force:
        os.replace(temp, path)
    else:
        try:
            os.link(temp, path)  # fails if the name was taken meanwhile, unlike a rename
        except FileExistsError:
            raise FileExistsError(f"{path} exists already (use --force to replace it)") from None
        except OSError:  # a file system without hard links: rename after a last look
            if path.exists():
                raise FileExistsError(f"{path} exists already (use --force to replace it)") from None
            os.replace(temp, path)
        else:
            os.unlink(temp)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
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


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
