"""A bundle as one zip, built while it is sent (zipstream-ng writes the format; nothing here does).

Contract: ``zip_of(members)`` takes ``(path, size, open_chunks)`` triples in order and returns an
iterable of the zip's bytes and its exact length, known before the first byte. Entries are stored
(the files are mostly compressed already, and a stored entry's length is known, so the answer has a
Content-Length), each followed by a data descriptor; ZIP64 records appear wherever a size or an offset
needs them; every name is UTF-8 with the UTF-8 flag (bit 11) set, ASCII names too (``zip_utf8``).
``open_chunks()`` is called only when its entry's turn comes, so one blob at a time is open; if it
raises, or yields other than ``size`` bytes, the iteration raises and the answer must be cut, never
ended cleanly. ``unique_paths(paths)`` renames repeats ``a.jpg`` → ``a (2).jpg``, ignoring case, since
the folders they are extracted into may.
"""

from collections.abc import Callable, Iterable, Iterator

from zipstream import ZIP_STORED, ZipStream

from . import zip_utf8

zip_utf8.install()


def zip_of(members: Iterable[tuple[str, int, Callable[[], Iterator[bytes]]]]) -> tuple[Iterable[bytes], int]:
    members = list(members)
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    for path, (_, size, open_chunks) in zip(unique_paths([m[0] for m in members]), members, strict=True):
        archive.add(_Lazy(open_chunks), path, size=size)
    return archive, len(archive)


def unique_paths(paths: list[str]) -> list[str]:
    taken: set[str] = set()
    next_number: dict[str, int] = {}
    unique = []
    for path in paths:
        candidate, key = path, path.casefold()
        if key in taken:
            folder, slash, name = path.rpartition("/")
            stem, dot, ext = name.rpartition(".")
            stem, dot, ext = (stem, dot, ext) if stem else (name, "", "")
            number = next_number.get(key, 2)
            while True:
                candidate = f"{folder}{slash}{stem} ({number}){dot}{ext}"
                number += 1
                if candidate.casefold() not in taken:
                    break
            next_number[key] = number
        taken.add(candidate.casefold())
        unique.append(candidate)
    return unique


class _Lazy:
    """An iterable that opens its source on first iteration, so queued entries hold no open blob."""

    def __init__(self, open_chunks: Callable[[], Iterator[bytes]]):
        self._open = open_chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._open())
