"""`kalshi menu`: the interactive numbered menu (placeholder until the menu lands)."""

from __future__ import annotations

import typer


def menu(ctx: typer.Context) -> None:
    """Interactive numbered menu.

    Example:  kalshi menu
    """
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    app.command("menu")(menu)
