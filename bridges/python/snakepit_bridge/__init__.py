"""Snakepit Python bridge: serve ``@command`` functions to a Snakepit host.

    from snakepit_bridge import command, InvalidArgument

    @command
    def add(ctx, a: int, b: int):
        return {"sum": a + b}

Run with ``python3 -m snakepit_bridge --adapter my_module`` (see __main__.py
and docs/protocol.md).
"""

__version__ = "0.1.0"

from .context import Context
from .errors import (Cancelled, DeadlineExceeded, FailedPrecondition,
                     InvalidArgument, NotFound, ResourceExhausted,
                     SnakepitError, Unavailable)
from .registry import command

__all__ = [
    "__version__", "command", "Context", "SnakepitError", "InvalidArgument",
    "NotFound", "FailedPrecondition", "Unavailable", "ResourceExhausted",
    "Cancelled", "DeadlineExceeded",
]
