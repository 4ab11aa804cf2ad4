"""Where tokens, passphrases and durations come from.

Contract: secrets are never required on the command line, where shell history
and ``ps`` would keep them. ``token_from(source)`` reads a token from ``-``
(stdin), from a file (a saved ``.jwe`` or anything holding a token or a share
link), from a share link (the part after ``#``), or takes a bare token; with
no source it asks on the terminal. ``secret_from_file(path)`` reads a
passphrase (``-`` is stdin; one trailing newline is dropped).
``prompt_secret(label)`` asks on the controlling terminal without echo and
raises ``NoTerminal`` when there is none, so a script never hangs on a prompt.
``parse_duration("30m" | "2h" | "1d" | "7d" | "3600")`` returns seconds.
"""

import getpass
import os
import re
import sys

MAX_TOKEN_FILE_BYTES = 16 * 1024  # a token is ~300-700 characters
MAX_SECRET_FILE_BYTES = 4096
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # compact JWE, no key part
_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class InputError(Exception):
    """Something the user gave (or did not give) cannot be used: a usage error."""


class NoTerminal(InputError):
    pass


class NotAToken(Exception):
    """The source holds no token, so there is no point asking the server."""


def token_from(source: str | None, what: str = "token") -> str:
    if source is None:
        text = prompt_secret(f"{what.capitalize()} (or share link): ")
    elif source == "-":
        text = sys.stdin.read(MAX_TOKEN_FILE_BYTES + 1)
    elif os.path.isfile(source):
        text = _read_text(source, MAX_TOKEN_FILE_BYTES, what, NotAToken)
    elif source.endswith((".jwe", ".owner-token")) or (os.sep in source and "://" not in source):
        raise InputError(f"no such file: {source}")
    else:
        text = source
    return parse_token(text, what)


def parse_token(text: str, what: str = "token") -> str:
    if len(text) > MAX_TOKEN_FILE_BYTES:
        raise NotAToken(f"that is far too long to be a {what}")
    token = "".join(text.split())
    token = token.rpartition("#")[2]
    if not _TOKEN.fullmatch(token):
        raise NotAToken(f"that does not hold a {what}: expected a token, a share link or a .jwe file")
    return token


def secret_from_file(path: str, what: str = "passphrase") -> str:
    if path == "-":
        text = sys.stdin.read(MAX_SECRET_FILE_BYTES + 1)
        if len(text) > MAX_SECRET_FILE_BYTES:
            raise InputError(f"the {what} on standard input is too long")
    else:
        text = _read_text(path, MAX_SECRET_FILE_BYTES, what, InputError)
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise InputError(f"the {what} is empty")
    return text


def prompt_secret(label: str) -> str:
    if not terminal_available():
        raise NoTerminal(f"no terminal to ask on for: {label.strip().rstrip(':')}")
    try:
        return getpass.getpass(label)
    except EOFError:
        raise InputError("nothing was entered") from None


def prompt_new_passphrase() -> str:
    first = prompt_secret("Passphrase for the file(s): ")
    if not first:
        raise InputError("the passphrase is empty")
    if prompt_secret("Same passphrase again: ") != first:
        raise InputError("the two passphrases differ")
    return first


def terminal_available() -> bool:
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


def parse_duration(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 2h, 1d, 7d or seconds)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _read_text(path: str, limit: int, what: str, error: type[Exception]) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise error(f"{path} is far too large to hold a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} does not hold a {what} (not UTF-8 text)") from None
