"""The generic adapter (``--adapter snakepit_bridge.generic``): ping, echo,
compute, info, sleep, crash; and, for sessions (data kept by the host, see
docs/protocol.md, "Calls to the host"): session_put, session_get,
session_append, session_sum, session_info, local_counter.

Streams (docs/protocol.md, "Streaming"): count, stream_bytes, stream_calls.
Byte strings ("Binary payloads"): checksum, transform, stream_bytes. Calls to
the host's functions: call_host, stream_calls.

Without a session (``execute`` instead of ``execute_in_session``) the
session_* commands fail with FailedPrecondition (reason ``no_session``).
local_counter counts in this worker process's memory instead: it shows
which requests reach the same worker, and that such memory dies with the
worker while the host's session data does not.
"""

import os
import sys
import time

from . import __version__
from .errors import Cancelled, HostCallError, InvalidArgument, Unavailable
from .registry import command, commands_of_module
from .runtime import exit_now

# Bounds on the streaming and binary commands' arguments.
MAX_COUNT = 10_000_000
MAX_BYTES = 64 * 1024 * 1024

_OPERATIONS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
}

# os.getpid() is a system call (glibc no longer caches it); ping is the
# heartbeat, so cache the pid and refresh it in forked children.
_pid = os.getpid()


def _refresh_pid():
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


def _python_version():
    """platform.python_version() without importing platform (~2 ms): the
    version at the start of sys.version, with ".0" added to a two-part one."""
    version = sys.version.partition(" ")[0]
    if not (version.isascii()
            and version.replace(".", "").replace("+", "").replace("_", "").isalnum()):
        import platform  # unusual: let platform parse it
        return platform.python_version()
    return version + ".0" if version.count(".") == 1 else version


_PYTHON_VERSION = _python_version()

# Sleep granularity: how often sleep() checks ctx.cancelled.
_SLEEP_STEP_S = 0.01

# session_append: attempts before giving up when other requests keep
# changing the session between its read and its update.
_APPEND_ATTEMPTS = 100

# local_counter: session id (None: no session) -> count, in this process.
_local_counts = {}

_MISSING = object()


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


_monotonic = time.monotonic


@command
def ping(ctx, **args):
    """Liveness check; tolerates any args (snakepit-v0 sends worker_id and
    initialization) and echoes them back. ``uptime_s`` has millisecond
    resolution (a float: formatting one with fewer digits costs half as
    much, and ping is the heartbeat)."""
    bridge = ctx.bridge
    return {
        "status": "ok",
        "uptime_s": int((_monotonic() - bridge.started_at) * 1000) / 1000,
        "requests": bridge.requests,
        "pid": _pid,
        "python": _PYTHON_VERSION,
        "worker_id": ctx.worker_id,
        "echo": args,
    }


@command
def echo(ctx, **args):
    """Return the arguments unchanged."""
    return args


@command
def compute(ctx, operation: str, a, b):
    """Arithmetic: operation is add, subtract, multiply or divide."""
    if not isinstance(operation, str) or operation not in _OPERATIONS:
        raise InvalidArgument(
            "unknown operation %r; valid operations: %s"
            % (operation, ", ".join(_OPERATIONS)))
    for arg_name, value in (("a", a), ("b", b)):
        if not _is_number(value):
            raise InvalidArgument("%s must be a number, not %s"
                                  % (arg_name, type(value).__name__), type="TypeError")
    if operation == "divide" and b == 0:
        raise InvalidArgument("division by zero", type="ZeroDivisionError")
    return {"operation": operation, "a": a, "b": b,
            "result": _OPERATIONS[operation](a, b)}


@command
def info(ctx):
    """What this bridge is and runs."""
    import platform  # only here (platform() caches its result)
    return {
        "bridge": "snakepit_bridge",
        "version": __version__,
        "adapter": __name__,
        "commands": sorted(commands_of_module(sys.modules[__name__])),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }


@command
def sleep(ctx, ms: int):
    """Sleep ``ms`` milliseconds; stops early once the request is cancelled."""
    if not _is_int(ms) or ms < 0:
        raise InvalidArgument("ms must be a non-negative integer, not %r" % (ms,))
    start = time.monotonic()
    deadline = start + ms / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return {"slept_ms": ms}
        if ctx.cancelled:
            return {"slept_ms": int((time.monotonic() - start) * 1000), "cancelled": True}
        time.sleep(min(left, _SLEEP_STEP_S))


@command
def crash(ctx, code: int = 1):
    """Exit the process at once with ``code`` (no response is sent)."""
    if not _is_int(code) or not 0 <= code <= 255:
        raise InvalidArgument("code must be an integer in 0..255, not %r" % (code,))
    exit_now(code)


@command
def session_put(ctx, key: str, value):
    """Store ``value`` under ``key`` in the request's session -> {"version"}."""
    return {"version": ctx.session.set(key, value)}


@command
def session_get(ctx, key: str):
    """The value stored under ``key`` in the session, or None."""
    return ctx.session.get(key)


@command
def session_append(ctx, key: str, value):
    """Append ``value`` to the list stored under ``key`` (missing: []) ->
    {"length", "version"}.

    Atomic: read, then update with ``if_version``; on a version_mismatch
    (another request changed the session in between) read again, up to
    _APPEND_ATTEMPTS times, then Unavailable (reason ``contention``).
    """
    session = ctx.session
    for attempt in range(_APPEND_ATTEMPTS):
        if attempt and ctx.cancelled:
            raise Cancelled("session_append cancelled after %d attempts" % attempt)
        values, version = session.read(key)
        items = values.get(key, [])
        if not isinstance(items, list):
            raise InvalidArgument("session key %r holds %s, not a list"
                                  % (key, _json_name(items)), type="TypeError")
        items.append(value)
        try:
            version = session.update(set={key: items}, if_version=version)
        except HostCallError as exc:
            if exc.code == "FailedPrecondition" and exc.reason == "version_mismatch":
                continue
            raise
        return {"length": len(items), "version": version}
    raise Unavailable("session_append: the session changed under every one of %d attempts"
                      % _APPEND_ATTEMPTS, details={"reason": "contention",
                                                   "attempts": _APPEND_ATTEMPTS})


@command
def session_sum(ctx, key: str):
    """The sum of the numbers in the list stored under ``key`` (0 if the
    key is missing; InvalidArgument if it is not a list of numbers)."""
    items = ctx.session.get(key, _MISSING)
    if items is _MISSING:
        return 0
    if not isinstance(items, list):
        raise InvalidArgument("session key %r holds %s, not a list of numbers"
                              % (key, _json_name(items)), type="TypeError")
    for item in items:
        if not _is_number(item):
            raise InvalidArgument("session key %r holds %s, not a list of numbers"
                                  % (key, "a list with " + _json_name(item)), type="TypeError")
    return sum(items)


@command
def session_info(ctx):
    """What the host knows of the session (id, created, last_accessed,
    ttl_s, worker_id, metadata, keys, bytes, version)."""
    return ctx.session.info()


@command
def local_counter(ctx):
    """Count calls per session id (None: no session) in this worker
    process's memory -> {"count", "pid", "session_id"}."""
    session_id = ctx.session_id
    count = _local_counts.get(session_id, 0) + 1
    _local_counts[session_id] = count
    return {"count": count, "pid": _pid, "session_id": session_id}


def _check_count(name, value, limit=MAX_COUNT):
    if not _is_int(value) or not 0 <= value <= limit:
        raise InvalidArgument("%s must be an integer in 0..%d, not %r" % (name, limit, value),
                              type="TypeError" if not _is_int(value) else "ValueError")


@command(streaming=True)
def count(ctx, n: int, delay_ms=0, crash_after=None):
    """Stream ``{"i": i}`` for i in 0..n-1, sleeping ``delay_ms`` before
    each; returns ``{"count": n}``. ``crash_after``: exit the process (code
    1) when about to produce chunk ``crash_after``."""
    _check_count("n", n)
    if not _is_number(delay_ms) or not 0 <= delay_ms <= 3_600_000:
        raise InvalidArgument("delay_ms must be a number in 0..3600000, not %r" % (delay_ms,))
    if crash_after is not None and (not _is_int(crash_after) or crash_after < 0):
        raise InvalidArgument("crash_after must be a non-negative integer or null, not %r"
                              % (crash_after,))
    return _count(n, delay_ms / 1000.0, crash_after)


def _count(n, delay_s, crash_after):
    # A generator of its own, so that count() checks its arguments when
    # called (an error before any chunk), not at the first next().
    sleep = time.sleep
    for i in range(n):
        if i == crash_after:
            exit_now(1)
        if delay_s > 0:
            sleep(delay_s)
        yield {"i": i}
    return {"count": n}


@command(streaming=True)
def stream_bytes(ctx, n: int, size: int):
    """Stream ``n`` byte strings of ``size`` bytes, the i-th filled with
    byte i % 256; returns ``{"chunks": n, "bytes": n * size}``."""
    _check_count("n", n)
    _check_count("size", size, MAX_BYTES)
    return _stream_bytes(n, size)


def _stream_bytes(n, size):
    for i in range(n):
        yield bytes([i % 256]) * size
    return {"chunks": n, "bytes": n * size}


def _check_bytes(name, value):
    if not isinstance(value, bytes):
        raise InvalidArgument("%s must be bytes (a byte string), not %s"
                              % (name, _json_name(value)), type="TypeError")


@command
def checksum(ctx, data):
    """``{"size", "sha256"}`` of the byte string ``data``."""
    _check_bytes("data", data)
    import hashlib
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# transform(op="invert"): byte -> byte ^ 0xff.
_INVERT = bytes(255 - i for i in range(256))
_TRANSFORMS = {
    "reverse": lambda data: data[::-1],
    "invert": lambda data: data.translate(_INVERT),
    "identity": lambda data: data,
}


@command
def transform(ctx, data, op="reverse"):
    """``{"data", "size", "sha256"}`` of ``data`` (bytes) transformed by
    ``op``: reverse, invert (each byte XOR 0xff) or identity."""
    _check_bytes("data", data)
    fn = _TRANSFORMS.get(op) if isinstance(op, str) else None
    if fn is None:
        raise InvalidArgument("unknown op %r; valid ops: %s" % (op, ", ".join(_TRANSFORMS)))
    result = fn(data)
    import hashlib
    return {"data": result, "size": len(result), "sha256": hashlib.sha256(result).hexdigest()}


def _check_function(function):
    if not isinstance(function, str) or not function:
        raise InvalidArgument("function must be a non-empty string, not %r" % (function,),
                              type="TypeError")


@command
def call_host(ctx, function: str, args=None):
    """``{"result": ...}`` of calling the host function ``function`` with
    ``args`` (an object; null: {}). The host's error, if any, becomes this
    command's error (its code and details)."""
    _check_function(function)
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        raise InvalidArgument("args must be an object or null, not %s" % _json_name(args),
                              type="TypeError")
    return {"result": ctx.call(function, **args)}


@command(streaming=True)
def stream_calls(ctx, n: int, function: str):
    """Stream ``{"i": i, "result": <host function(i=i)>}`` for i in 0..n-1:
    a call to the host between chunks."""
    _check_count("n", n)
    _check_function(function)
    return _stream_calls(ctx, n, function)


def _stream_calls(ctx, n, function):
    call = ctx.call
    for i in range(n):
        yield {"i": i, "result": call(function, i=i)}


def _json_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    return "an object"
