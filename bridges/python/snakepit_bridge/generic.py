"""The generic adapter (``--adapter snakepit_bridge.generic``): ping, echo,
compute, info, sleep, crash."""

import os
import sys
import time

from . import __version__
from .errors import InvalidArgument
from .registry import command, commands_of_module

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


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


@command
def ping(ctx, **args):
    """Liveness check; tolerates any args (snakepit-v0 sends worker_id and
    initialization) and echoes them back."""
    bridge = ctx.bridge
    return {
        "status": "ok",
        "uptime_s": time.monotonic() - bridge.started_at,
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
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
