"""The ``anon-hosting`` command: put, get, info and delete files on an Anon Hosting server.

Contract: ``main(argv=None)`` parses the command line, runs one command and returns its exit code
(table in ``EXIT_CODES``, shown by ``--help``). Results go to stdout; progress bars, prompts and
errors to stderr. An error prints the server's message and exits with its kind's code, never a traceback.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from . import bundle, files, inputs, output, resume
from .api import ApiError, Client, NetworkError

DEFAULT_SERVER = "http://127.0.0.1:8080"
OK, OTHER, USAGE, NETWORK, TOKEN, GONE, PASSPHRASE, SIZE, ACCESS, INTERRUPTED = 0, 1, 2, 3, 4, 5, 6, 7, 8, 130
EXIT_FOR_CODE = {
    "invalid_token": TOKEN, "forbidden": TOKEN,
    "not_found": GONE, "expired": GONE, "download_limit_reached": GONE, "download_in_progress": GONE,
    "passphrase_required": PASSPHRASE, "wrong_passphrase": PASSPHRASE,
    "too_large": SIZE, "insufficient_storage": SIZE, "storage_unavailable": SIZE,
    "rate_limited": ACCESS, "unauthorized": ACCESS, "server_busy": ACCESS, "request_timeout": NETWORK,
}
EXIT_CODES = f"""\
exit codes:
  0  done
  1  any other error (bad_request, internal_error, a local I/O error, ...)
  2  usage: a wrong option, a missing file, no token given and no terminal to ask on
  3  network: the server cannot be reached, or a transfer broke off or stalled (request_timeout; nothing is saved)
  4  not a valid token (invalid_token), or the wrong kind of token (forbidden)
  5  the file is gone: not_found, expired, download_limit_reached, download_in_progress
  6  passphrase: passphrase_required, wrong_passphrase
  7  too large or no room: too_large, insufficient_storage, storage_unavailable
  8  refused: unauthorized (upload password), rate_limited, server_busy
  130 interrupted

Files over 8 MiB go up resumably (tus): a dropped connection is retried from
where the server has the file, and after Ctrl-C or a crash `put --resume FILE`
goes on from there. Until it finishes, the upload's address and secret are kept
in ~/.cache/anon-hosting/uploads (mode 0600).

environment:
  ANON_HOSTING_URL              the server (default {DEFAULT_SERVER})
  ANON_HOSTING_UPLOAD_PASSWORD  the upload password, when the server has one
                                (otherwise you are asked for it)

Tokens and passphrases are read from files, stdin (-) or a prompt, so they
need not appear in your shell history. Share the token (or its link); keep
the owner token: it deletes the file.
"""
_PASSPHRASE_HINT = "Give it with --passphrase-file FILE (or -), or run in a terminal to be asked."  # noqa: S105 - a help text


class TooLargeHere(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return args.command(args)
    except ApiError as exc:
        hint = f" {_PASSPHRASE_HINT}" if exc.code == "passphrase_required" else ""
        waits = exc.code in ("rate_limited", "server_busy") and exc.retry_after
        wait = f" Try again in {exc.retry_after} s." if waits else ""
        return _fail(EXIT_FOR_CODE.get(exc.code, OTHER), f"{exc.message}{wait}{hint} ({exc.code})")
    except (inputs.InputError, FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        return _fail(USAGE, str(exc))
    except inputs.NotAToken as exc:
        return _fail(TOKEN, str(exc))
    except (NetworkError, files.IncompleteDownload) as exc:
        return _fail(NETWORK, f"{exc}. Nothing was saved." if isinstance(exc, files.IncompleteDownload) else str(exc))
    except TooLargeHere as exc:
        return _fail(SIZE, str(exc))
    except OSError as exc:
        return _fail(OTHER, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        return _fail(INTERRUPTED, "interrupted")


# -- commands ---------------------------------------------------------------------

def put(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    for path in paths:
        if not path.is_file() and not (args.bundle and path.is_dir()):
            raise inputs.InputError(f"not a file: {path}" + ("" if args.bundle else " (--bundle sends folders)"))
    if args.bundle and args.resume:
        raise inputs.InputError("--resume goes on with single files, not with a bundle")
    items = bundle.collect(paths) if args.bundle else [(p, p.name) for p in paths]
    saved = _token_files(args.output, [Path(args.name or paths[0].name)] if args.bundle else paths)
    client = _client(args)
    config = client.config()
    for path, size in [(", ".join(args.files), sum(p.stat().st_size for p, _ in items))] if args.bundle else [
            (p, p.stat().st_size) for p in paths]:
        if size > config["max_upload_bytes"]:
            raise TooLargeHere(f"{path} is {output.size(size)}; this server takes at most "
                               f"{output.size(config['max_upload_bytes'])}. Nothing was sent.")
    if args.bundle and len(items) > config.get("max_bundle_files", len(items)):
        raise TooLargeHere(f"{len(items)} files; this server takes at most {config['max_bundle_files']} in one "
                           "bundle. Nothing was sent.")
    passphrase = (inputs.secret_from_file(args.passphrase_file) if args.passphrase_file
                  else inputs.prompt_new_passphrase() if args.passphrase_prompt else None)
    password = os.environ.get("ANON_HOSTING_UPLOAD_PASSWORD") or None
    if password is None and config.get("upload_password_required"):
        password = inputs.prompt_secret("Upload password: ")
    if args.expires and args.expires > config["max_expires_in"]:
        output.note(args, f"this server keeps files at most {output.duration(config['max_expires_in'])}.")
    if args.bundle:
        _deliver(args, client, bundle.send(args, client, items, passphrase, password), *saved[0])
        return OK
    for path, (token_file, owner_file) in zip(paths, saved, strict=True):
        size = path.stat().st_size
        options = {"expires_in": args.expires, "max_downloads": args.max_downloads, "passphrase": passphrase,
                   "password": password}
        with output.bar(args, size, path.name) as bar:
            if size > resume.THRESHOLD or args.resume:
                try:
                    answer = resume.upload(client, path, resume=args.resume, progress=bar.update, **options)
                except KeyboardInterrupt:
                    output.note(args, f"to go on later: anon-hosting put --resume {path}")
                    raise
            else:
                with open(path, "rb") as source:
                    answer = client.upload(source, size, path.name, progress=bar.update, **options)
        _deliver(args, client, answer, token_file, owner_file)
    return OK


def _deliver(args: argparse.Namespace, client: Client, answer: dict, token_file: Path | None,
             owner_file: Path | None) -> None:
    if token_file is not None:
        files.write_secret(token_file, answer["token"])
        files.write_secret(owner_file, answer["owner_token"])
    output.upload_result(args, client.share_link(answer["token"]), answer, token_file, owner_file)


def get(args: argparse.Namespace) -> int:
    token = inputs.token_from(args.token)
    client = _client(args)
    # Info first (it consumes nothing), so a target that exists is refused before a download is spent on it.
    details, passphrase = _with_passphrase(args, lambda passphrase: client.info(token, passphrase))
    if args.extract is not None or args.file is not None:
        return bundle.get(args, client, token, details, passphrase)
    path = files.download_path(args.output, details["name"])
    if path.exists() and not args.force:
        raise FileExistsError(f"{path} exists already (use --force to replace it)")
    size = bundle.save(args, client.retrieve(token, passphrase), path)
    print(f"Saved {path} ({output.size(size)})")
    return OK


def info(args: argparse.Namespace) -> int:
    token = inputs.token_from(args.token)
    client = _client(args)
    details, _ = _with_passphrase(args, lambda passphrase: client.info(token, passphrase))
    if args.json:
        print(json.dumps(details, ensure_ascii=False))
        return OK
    left = details["downloads_left"]
    print(f"Name:           {details['name']}\n"
          f"Size:           {output.size(details['size'])} ({details['size']} bytes)\n"
          f"Created:        {details['created_at']}\n"
          f"Expires:        {details['expires_at'] or 'never'}\n"
          f"Downloads left: {'unlimited' if left is None else left}"
          + (f" ({details['downloads_in_progress']} running now)" if details.get("downloads_in_progress") else ""))
    for file in details.get("files", []):
        left = "" if file["downloads_left"] is None else f"  ({file['downloads_left']} left)"
        print(f"  [{file['index']}] {output.size(file['size']):>10}  {file['name']}{left}")
    return OK


def delete(args: argparse.Namespace) -> int:
    token = inputs.token_from(args.owner_token, "owner token")
    _client(args).delete(token)
    print("Deleted. The file's token no longer opens anything.")
    return OK


# -- helpers ----------------------------------------------------------------------

def _with_passphrase(args: argparse.Namespace, call):
    """(answer, passphrase): call with the passphrase from --passphrase-file, or ask when the server wants one."""
    passphrase = inputs.secret_from_file(args.passphrase_file) if args.passphrase_file else None
    for attempt in range(3):
        try:
            return call(passphrase), passphrase
        except ApiError as exc:
            can_ask = args.passphrase_file is None and attempt < 2 and inputs.terminal_available()
            if exc.code not in ("passphrase_required", "wrong_passphrase") or not can_ask:
                raise
            if exc.code == "wrong_passphrase":
                print("That passphrase is not correct.", file=sys.stderr)
            passphrase = inputs.prompt_secret("Passphrase: ")
    raise AssertionError("unreachable")


def _token_files(folder_arg: str | None, paths: list[Path]) -> list[tuple[Path | None, Path | None]]:
    """Where -o saves each file's tokens; checked before anything is uploaded."""
    if folder_arg is None:
        return [(None, None)] * len(paths)
    if len({p.name for p in paths}) < len(paths):
        raise inputs.InputError("with -o, the files need different names (their token files are named after them)")
    folder = Path(folder_arg)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(folder / f"{p.name}.jwe", folder / f"{p.name}.owner-token") for p in paths]
    for pair in pairs:
        for target in pair:
            if target.exists():
                raise FileExistsError(f"{target} exists already; nothing was uploaded")
    return pairs


def _client(args: argparse.Namespace) -> Client:
    try:
        return Client(args.server, timeout=args.timeout)
    except ValueError as exc:
        raise inputs.InputError(f"--server: {exc}") from None


def _fail(code: int, message: str) -> int:
    print(f"anon-hosting: error: {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    # Common options are accepted before and after the command; SUPPRESS keeps a later default from
    # overwriting an earlier value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default=argparse.SUPPRESS, metavar="URL",
                        help=f"the server (default: $ANON_HOSTING_URL or {DEFAULT_SERVER})")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar and no notes")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                        help="give up on a silent server after this long (default 60)")
    parser = argparse.ArgumentParser(
        prog="anon-hosting", parents=[common], epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Upload files to an Anon Hosting server and get them back with their token.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument("--passphrase-file", metavar="FILE", help="read the passphrase from FILE (- for stdin)")

    put_ = commands.add_parser("put", parents=[common, secret], help="upload files; print their tokens and links")
    put_.add_argument("files", nargs="+", metavar="FILE|FOLDER")
    put_.add_argument("--expires", type=_duration_arg, metavar="DURATION",
                      help="lifetime: 30m, 2h, 1d, 7d or seconds (default: the server's)")
    put_.add_argument("--max-downloads", type=_downloads_arg, metavar="N", help="downloads allowed (1-1000)")
    put_.add_argument("--passphrase-prompt", action="store_true", help="ask for a passphrase the file will need")
    put_.add_argument("-o", "--output", metavar="DIR",
                      help="save NAME.jwe (the token, to share) and NAME.owner-token (to keep) in DIR")
    put_.add_argument("--json", action="store_true", help="print one JSON object per file")
    put_.add_argument("--bundle", action="store_true",
                      help="send the files, and the files in FOLDERs, as one bundle behind one token")
    put_.add_argument("--name", metavar="NAME", help="the bundle's zip name (default: from its files)")
    put_.add_argument("--resume", action="store_true", help="go on with an interrupted upload of the same file")
    put_.set_defaults(command=put)

    source = "a .jwe file, a share link, - for stdin; asked for when left out"
    get_ = commands.add_parser("get", parents=[common, secret], help="download the file a token opens")
    get_.add_argument("token", nargs="?", metavar="TOKEN|FILE.jwe|LINK", help=source)
    get_.add_argument("-o", "--output", metavar="PATH", help="a folder to save into, or the file name to save as")
    get_.add_argument("--force", action="store_true", help="replace an existing file")
    get_.add_argument("--file", type=int, metavar="N", help="a bundle's file N only (see info)")
    get_.add_argument("--extract", metavar="DIR", help="a bundle's files into DIR, rather than its zip")
    get_.set_defaults(command=get)

    info_ = commands.add_parser("info", parents=[common, secret], help="show what a token opens, without downloading")
    info_.add_argument("token", nargs="?", metavar="TOKEN|FILE.jwe|LINK", help=source)
    info_.add_argument("--json", action="store_true", help="print the server's JSON answer")
    info_.set_defaults(command=info)

    delete_ = commands.add_parser("delete", parents=[common], help="delete a file with its owner token")
    delete_.add_argument("owner_token", nargs="?", metavar="OWNER_TOKEN|FILE",
                         help="a .owner-token file, - for stdin; asked for when left out")
    delete_.set_defaults(command=delete)
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    # Not parser.set_defaults: it would also change the actions the subcommands share with it.
    args.server = getattr(args, "server", None) or os.environ.get("ANON_HOSTING_URL") or DEFAULT_SERVER
    args.quiet = getattr(args, "quiet", False)
    args.timeout = getattr(args, "timeout", 60.0)
    return args


def _duration_arg(text: str) -> int:
    try:
        return inputs.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _downloads_arg(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"not a number from 1 to 1000: {text!r}")
    return int(text)
