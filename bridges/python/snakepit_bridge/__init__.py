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

The exception ``ctx.call`` raises for an error reply is a HostCallError and
also an instance of the class of its code, so ``except NotFound`` works as
well as checking ``exc.code``. ``ctx.functions()`` lists the host functions
the request may call (``host.functions``).

Streaming and byte strings
--------------------------
A streaming command yields its result piece by piece; each value is sent as
a ``chunk`` when the host asked for a stream, the generator's return value
ends it (docs/protocol.md, "Streaming"):

    @command(streaming=True)
    def lines(ctx, path: str):
        n = 0
        with open(path, "rb") as f:
            for line in f:
                yield line            # bytes travel as bytes
                n += 1
        return {"lines": n}

Asked without streaming, it answers with the list of its chunks. A
``cancel`` closes the generator at its next ``yield``. ``bytes`` (and
``bytearray``, ``memoryview``) anywhere in results, chunks and call
arguments are sent as raw bytes next to the JSON, and arrive in commands'
arguments and call results as ``bytes`` ("Binary payloads").
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
