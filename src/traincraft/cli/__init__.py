"""The command line: a thin typer layer over :mod:`traincraft.api`, one command per verb.

Commands live beside the verbs they serve: ``_app`` (quickstart, init, train, predict, evaluate,
info), ``_data_commands`` (audit, prepare, review), ``_eval_commands`` (report, curve, runs), ``_serve_commands`` (serve, export).
"""

from traincraft.cli import _data_commands, _eval_commands, _finetune_commands, _rl_commands, _serve_commands
from traincraft.cli._app import app, main

_data_commands.register(app)
_eval_commands.register(app)
_serve_commands.register(app)
_finetune_commands.register(app)
_rl_commands.register(app)

__all__ = ["app", "main"]
