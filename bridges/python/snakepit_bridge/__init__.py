"""Snakepit Python bridge: serve ``@command`` functions to a Snakepit host.

    from snakepit_bridge import command, InvalidArgument

    @command
    def add(ctx, a: int, b: int):
        return {"sum": a + b}

Run with ``python3 -m snakepit_bridge --adapter my_module`` (see __main__.py
and docs/protocol.md).

Sessions
--------
A request made with ``execute_in_session`` carries a session id
(``ctx.session_id``; None otherwise). The session's data lives in the host,
not in the worker: it survives the worker and is shared by every worker the
session's requests run on. ``ctx.session`` reads and writes it; each
operation is one call to the host (docs/protocol.md, "Calls to the host"):

    from snakepit_bridge import HostCallError, command

    @command
    def remember(ctx, key: str, value):
        old = ctx.session.get(key)                 # None if absent
        version = ctx.session.set(key, value)      # -> the new version
        return {"old": old, "version": version}

    @command
    def bump(ctx):                                 # atomic read-modify-write
        while True:
            values, version = ctx.session.read("n")
            n = values.get("n", 0) + 1
            try:
                ctx.session.update(set={"n": n}, if_version=version)
                return n
            except HostCallError as exc:
                if exc.reason != "version_mismatch":
                    raise                          # else: retry

Also ``ctx.session.delete(key)``, ``update(set=..., delete=[...])``,
``items()`` / ``to_dict()`` (all data) and ``info()`` (id, ttl_s, keys,
bytes, version, ...). Without a session every operation raises
``FailedPrecondition`` (reason ``no_session``). A failed call raises
``HostCallError`` with the host's ``code`` and ``details``; a command that
lets it escape fails with that code, e.g. ``ResourceExhausted`` with reason
``session_full``. ``ctx.call(function, **args)`` is the underlying call.
The generic adapter's session_* commands and local_counter (generic.py)
are small working examples.
"""

__version__ = "0.1.0"

from .context import Context
from .errors import (Cancelled, DeadlineExceeded, FailedPrecondition,
                     HostCallError, InvalidArgument, NotFound,
                     ResourceExhausted, SnakepitError, Unavailable)
from .registry import command
from .session import Session

__all__ = [
    "__version__", "command", "Context", "Session", "SnakepitError",
    "InvalidArgument", "NotFound", "FailedPrecondition", "Unavailable",
    "ResourceExhausted", "Cancelled", "DeadlineExceeded", "HostCallError",
]
