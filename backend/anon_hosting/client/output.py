"""What the commands print: results on stdout, progress bars and notes on stderr.

Contract: ``upload_result`` prints an upload's answer, labelling the token and
share link (to share) apart from the owner token (to keep); ``bar`` is a tqdm
byte counter on stderr, off with --quiet or when stderr is not a terminal;
``size`` and ``duration`` format numbers for people.
"""

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm


def upload_result(args: argparse.Namespace, link: str, answer: dict, token_file: Path | None,
                  owner_file: Path | None) -> None:
    if args.json:
        print(json.dumps({**answer, "link": link}, ensure_ascii=False))
        return
    limit = answer["max_downloads"]
    print(f"Uploaded {answer['name']} ({size(answer['size'])}), expires {answer['expires_at']}, "
          f"{'unlimited downloads' if limit is None else f'{limit} download(s)'}"
          f"{', passphrase required' if answer['passphrase'] else ''}.")
    print(f"  SHARE this link (or the token) with the recipient:\n    {link}\n    token: {answer['token']}")
    print(f"  KEEP this owner token to yourself; it deletes the file:\n    {answer['owner_token']}")
    if token_file is not None:
        print(f"  Saved {token_file} (share) and {owner_file} (keep).")


def bar(args: argparse.Namespace, total: int | None, label: str) -> tqdm:
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label[:40], file=sys.stderr,
                disable=args.quiet or not sys.stderr.isatty(), leave=False, dynamic_ncols=True)


def note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"anon-hosting: note: {text}", file=sys.stderr)


def size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def duration(seconds: int) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % length == 0:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"
