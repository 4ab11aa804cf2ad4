"""Original file names: what we keep of a name a client sends.

Contract: ``clean(name)`` returns a non-empty NFC string of at most
``MAX_LENGTH`` characters with no control, format (bidi, zero-width) or
separator characters, no path separators and no leading/trailing spaces or
dots. Names never reach a path or a header unescaped; this cleaning is for the
person who will see the name on the download page and in their Downloads folder.
``clean_path(path)`` keeps the folders of a relative path (a folder drop): it splits at ``/`` and ``\\``,
drops empty, ``.`` and ``..`` segments, cleans each segment like a name and keeps at most
``MAX_SEGMENTS`` segments of ``MAX_PATH_LENGTH`` characters in all (the last ones), so it never
starts with ``/`` and never climbs out of the folder it is extracted into.
"""

import unicodedata

MAX_LENGTH = 200
MAX_SEGMENTS = 32
MAX_PATH_LENGTH = 1024
FALLBACK = "file"
_DROP = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean(name: str) -> str:
    return _clean(name) or FALLBACK


def _clean(name: str) -> str:
    """The cleaned name, empty when nothing is left (``..`` or only spaces and control characters)."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        "_" if ch in "/\\" else " " if unicodedata.category(ch) == "Zs" else ch
        for ch in name
        if unicodedata.category(ch) not in _DROP
    )
    name = unicodedata.normalize("NFC", name)  # again: a dropped character may have parted a letter and its accent
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and 0 < len(ext) <= 16 else ""
        name = name[: MAX_LENGTH - len(keep) - (1 if keep else 0)].rstrip(" .") + ("." + keep if keep else "")
    return name


def clean_path(path: str) -> str:
    segments = [segment for segment in map(_clean, path.replace("\\", "/").split("/")) if segment]
    kept: list[str] = []
    for segment in reversed(segments[-MAX_SEGMENTS:]):
        if sum(len(s) + 1 for s in kept) + len(segment) > MAX_PATH_LENGTH:
            break
        kept.insert(0, segment)
    return "/".join(kept) or FALLBACK
