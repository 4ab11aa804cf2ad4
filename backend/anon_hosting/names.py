"""Original file names: what we keep of a name a client sends.

Contract: ``clean(name)`` returns a non-empty NFC string of at most
``MAX_LENGTH`` characters with no control, format (bidi, zero-width) or
separator characters, no path separators and no leading/trailing spaces or
dots. Names never reach a path or a header unescaped; this cleaning is for the
person who will see the name on the download page and in their Downloads folder.
"""

import unicodedata

MAX_LENGTH = 200
FALLBACK = "file"
_DROP = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean(name: str) -> str:
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
    return name or FALLBACK
