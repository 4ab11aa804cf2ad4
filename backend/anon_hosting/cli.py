"""Operator commands: ``flask --app anon_hosting keys list|rotate|retire KID``, ``sweep``, ``backup``, ``restore``.

Contract: commands act on the key set of the configured PRIVATE_FOLDER through
``KeyRing``; running servers pick the change up on their next request.
"""

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from . import backup
from .errors import ConfigError

keys_group = AppGroup("keys", help="Manage the token key set in PRIVATE_FOLDER.")


def _keyring():
    return current_app.extensions["anon_hosting"].keyring


@keys_group.command("list", help="Show the key ids; the last one is active.")
def list_keys():
    kids = _keyring().kids()
    for kid in kids:
        click.echo(f"{kid}{'  (active)' if kid == kids[-1] else ''}")


@keys_group.command("rotate", help="Add a new active key. Tokens made under older keys keep working.")
def rotate():
    click.echo(f"New active key: {_keyring().rotate()}")


@keys_group.command("retire", help="Remove a key: every token issued under it stops working.")
@click.argument("kid")
def retire(kid: str):
    try:
        _keyring().retire(kid)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Retired key {kid}.")


@click.command("sweep", help="A full sweep now: expired and used-up files, and dead uploads' leftovers.")
@with_appcontext
def sweep():
    click.echo(f"Removed {current_app.extensions['anon_hosting'].sweep(full=True)} item(s).")


def _backup_step(step, folder: Path) -> dict:
    """Run backup.backup or backup.restore on this app's storage and key folder; errors as one CLI line."""
    try:
        return step(current_app.extensions["anon_hosting"].storage, current_app.config["SITE"].private_dir, folder)
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("backup", help="Back up local storage and the sealed key set into DIR, while the server runs.")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(dest: Path):
    manifest = _backup_step(backup.backup, dest)
    click.echo(f"Backed up {manifest['files']} file(s) and the key set into {dest}. "
               "It holds no SECRET_KEY: keep that apart.")


@click.command("restore", help="Restore a backup from DIR into empty storage; stop the servers first.")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def restore_command(src: Path):
    manifest = _backup_step(backup.restore, src)
    click.echo(f"Restored {manifest['files']} file(s) and the key set from {src}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_group)
    app.cli.add_command(sweep)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
