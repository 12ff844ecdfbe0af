"""The command line: a thin typer layer over :mod:`traincraft.api`, one command per verb."""

from traincraft.cli._app import app, main

__all__ = ["app", "main"]
