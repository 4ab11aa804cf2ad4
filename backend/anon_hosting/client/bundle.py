"""Bundles on the client's side: the multipart body of several files, and a bundle's zip unpacked safely.

Contract: ``collect(paths)`` returns ``(path, name)`` pairs: a file as given, named by its base name,
and each file under a folder (recursively, sorted), named by its path from the folder's parent
(``photos/2026/a.jpg``); symbolic links are skipped. ``MultipartBody(items, fields)`` is a reader
(``read(n)``) of the ``multipart/form-data`` body that sends ``fields`` and then one ``file`` part
per item, with ``content_type`` and ``size`` known before the first byte, reading one file at a time.
``extract(archive, folder)`` writes every entry of a zip under ``folder`` after checking all of
their paths (relative, no ``..``, no backslash, no existing file), and returns the paths.
The commands' parts: ``send`` uploads a bundle; ``get`` saves a bundle's file ``--file N`` or
unpacks its zip into ``--extract DIR``; ``save`` streams any download to a path with a progress bar.
"""

import argparse
import os
import secrets
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from . import files, output
from .api import Client, Download
from .inputs import InputError

PIECE = 1 << 20


def send(args: argparse.Namespace, client: Client, items: list[tuple[Path, str]], passphrase: str | None,
         password: str | None) -> dict:
    fields = {k: str(v) for k, v in (("expires_in", args.expires), ("max_downloads", args.max_downloads)) if v}
    fields.update({k: v for k, v in (("passphrase", passphrase), ("bundle_name", args.name)) if v})
    body = MultipartBody(items, fields)
    try:
        with output.bar(args, body.size, args.name or f"{len(items)} files") as bar:
            return client.upload_bundle(body, body.size, body.content_type, password=password, progress=bar.update)
    finally:
        body.close()


def get(args: argparse.Namespace, client: Client, token: str, details: dict, passphrase: str | None) -> int:
    if details.get("kind") != "bundle":
        raise InputError("--file and --extract are for bundles; this token opens one file")
    if args.file is not None:
        if not 0 <= args.file < len(details["files"]):
            raise InputError(f"--file: this bundle has files 0 to {len(details['files']) - 1}")
        path = files.download_path(args.output, details["files"][args.file]["name"].rpartition("/")[2])
        size = save(args, client.retrieve(token, passphrase, args.file), path)
        print(f"Saved {path} ({output.size(size)})")
        return 0
    folder = Path(args.extract)
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f".anon-hosting-{secrets.token_hex(8)}.zip"
    try:
        save(args, client.retrieve(token, passphrase), archive)
        written = extract(archive, folder)
    finally:
        archive.unlink(missing_ok=True)
    print(f"Extracted {len(written)} files ({output.size(details['size'])}) into {folder}")
    return 0


def save(args: argparse.Namespace, download: Download, path: Path) -> int:
    try:
        with output.bar(args, download.size, path.name) as bar:
            return files.save(download.chunks(), download.size, path, force=args.force, progress=bar.update)
    finally:
        download.close()


def collect(paths: list[Path]) -> list[tuple[Path, str]]:
    items: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_file():
            items.append((path, path.name))
        elif path.is_dir():
            base = path.resolve().parent
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
            items += [(p, p.resolve().relative_to(base).as_posix()) for p in found]
        else:
            raise InputError(f"not a file or folder: {path}")
    if not items:
        raise InputError("no files to send: the folders are empty")
    return items


class MultipartBody:
    def __init__(self, items: list[tuple[Path, str]], fields: dict[str, str]):
        self.boundary = "anon-hosting-" + secrets.token_hex(16)
        self._segments: list[bytes | Path] = []
        for name, value in fields.items():
            self._segments.append(self._head(f'name="{name}"') + value.encode() + b"\r\n")
        for path, name in items:
            self._segments += [self._head(f'name="file"; filename="{_quoted(name)}"'), path, b"\r\n"]
        self._segments.append(f"--{self.boundary}--\r\n".encode())
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self.size = sum(len(s) if isinstance(s, bytes) else s.stat().st_size for s in self._segments)
        self._open: object = None

    def _head(self, disposition: str) -> bytes:
        return f"--{self.boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode()

    def read(self, n: int) -> bytes:
        while self._segments or self._open is not None:
            if self._open is not None:
                piece = self._open.read(n)
                if piece:
                    return piece
                self._open.close()
                self._open = None
                continue
            segment = self._segments.pop(0)
            if isinstance(segment, Path):
                self._open = open(segment, "rb")  # noqa: SIM115 - closed once read to its end
            elif segment:
                return segment
        return b""

    def close(self) -> None:
        if self._open is not None:
            self._open.close()


def extract(archive: Path, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    with zipfile.ZipFile(archive) as zf:
        targets = [(info, _target(root, info.filename)) for info in zf.infolist() if not info.is_dir()]
        for _, target in targets:
            if target.exists():
                raise FileExistsError(f"{target} exists already; nothing was extracted")
        for info, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "xb") as out:
                shutil.copyfileobj(source, out, PIECE)
    return [target for _, target in targets]


def _target(root: Path, name: str) -> Path:
    """Where entry ``name`` goes under ``root``; a path that could land anywhere else is refused."""
    posix = PurePosixPath(name)
    if "\\" in name or "\0" in name or posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise InputError(f"the archive holds an unsafe path: {name!r}; nothing was extracted")
    target = (root / os.path.join(*posix.parts)).resolve()
    if not target.is_relative_to(root):
        raise InputError(f"the archive holds an unsafe path: {name!r}; nothing was extracted")
    return target


def _quoted(name: str) -> str:
    """A file name in a part header, escaped as browsers do."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
