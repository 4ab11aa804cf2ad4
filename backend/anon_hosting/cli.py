"""Operator commands: ``flask --app anon_hosting keys list|rotate|retire KID`` and ``sweep``.

Contract: commands act on the key set of the configured PRIVATE_FOLDER through
``KeyRing``; running servers pick the change up on their next request.
"""

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

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


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_group)
    app.cli.add_command(sweep)
