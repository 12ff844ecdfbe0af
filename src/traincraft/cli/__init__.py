"""The command line: a thin typer layer over :mod:`traincraft.api`, one command per verb.

Commands live beside the verbs they serve: ``_app`` (quickstart, init, train, predict, evaluate,
info), ``_eval_commands`` (report, curve, runs).
"""

from traincraft.cli import _eval_commands
from traincraft.cli._app import app, main

_eval_commands.register(app)

__all__ = ["app", "main"]
