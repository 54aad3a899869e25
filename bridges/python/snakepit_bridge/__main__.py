"""python3 -m snakepit_bridge --adapter <module>[:<Class>] [--protocol native|snakepit-v0]

Exit codes: 0 shutdown / end of input / SIGTERM; 2 bad adapter or
configuration (before hello); 3 protocol error from the host.

Environment (native): SNAKEPIT_FD_IN (default 3), SNAKEPIT_FD_OUT (default 4),
SNAKEPIT_MAX_FRAME (default 64 MiB), SNAKEPIT_WORKER_ID, SNAKEPIT_PROTOCOL
(default for --protocol).

After start-up the bridge calls gc.freeze(): everything loaded so far (the
adapter's modules, the bridge) moves to the permanent generation, so the
cyclic collector never rescans it while serving requests. Automatic
collection stays on for objects commands create: a plain request allocates
and frees its objects in balance, so no collection runs while serving them
(tests/python/test_fast_paths.py checks it), while a command that leaks
reference cycles still has them collected. (gc.disable() would gain
nothing here and risk unbounded memory.)

SIGUSR1 prints every thread's Python stack to stderr (faulthandler, set up
before the adapter is imported): the host sends it before killing a worker
stuck past the cancel grace, so the log shows where it was stuck.
"""

import faulthandler  # a builtin C module: importing it costs microseconds
import gc
import os
import sys

try:  # signal without its enum wrappers (importing enum costs milliseconds)
    from _signal import SIGTERM, SIGUSR1, signal as _set_handler
except ImportError:  # pragma: no cover
    from signal import SIGTERM, SIGUSR1, signal as _set_handler

from .context import BridgeState
from .framing import DEFAULT_MAX_FRAME, HEADER_SIZE, ProtocolError
from .registry import AdapterError, load_adapter

PROTOCOLS = ("native", "snakepit-v0")
EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_PROTOCOL = 3


class ConfigError(Exception):
    pass


def _on_sigterm(signum, frame):
    raise SystemExit(EXIT_OK)


def _register_stack_dump():
    """SIGUSR1 -> every thread's stack on stderr ("Thread 0x... (most recent
    call first):" blocks), written by faulthandler's C handler, so it works
    even while a command is stuck in C code. The process keeps running."""
    try:
        faulthandler.register(SIGUSR1, file=sys.stderr, all_threads=True, chain=False)
    except (AttributeError, OSError, RuntimeError, ValueError):
        pass  # no usable stderr (sys.stderr None, fd 2 closed): no dumps


def _env_int(name, default, minimum):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError("%s=%r is not an integer" % (name, raw)) from None
    if value < minimum:
        raise ConfigError("%s=%d is below %d" % (name, value, minimum))
    return value


def _check_fd(fd, name):
    try:
        os.fstat(fd)
    except OSError as exc:
        raise ConfigError("protocol fd %d (%s) is not open: %s" % (fd, name, exc)) from None


def _say(message):
    sys.stderr.write("snakepit_bridge: %s\n" % message)
    sys.stderr.flush()


_DEFAULTS = {"--adapter": "snakepit_bridge.generic", "--protocol": None}


def _parse_args(argv):
    """The command line -> (adapter, protocol or None).

    The usual forms (``--adapter X``, ``--adapter=X``, the same for
    ``--protocol``) are parsed here; anything else (``--help``, abbreviated
    options, errors) goes to argparse, imported only then, which prints the
    help or a usage error (exit code 2).
    """
    if argv is None:
        argv = sys.argv[1:]
    values = dict(_DEFAULTS)
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if not eq:
            value = next(args, "")
        # argparse reads a separate value that starts with "-" as an option.
        if name not in values or not value or (not eq and value[0] == "-"):
            return _parse_args_argparse(argv)
        values[name] = value
    return values["--adapter"], values["--protocol"]


def _parse_args_argparse(argv):
    import argparse
    parser = argparse.ArgumentParser(
        prog="python3 -m snakepit_bridge",
        description="Serve a Snakepit adapter over the worker protocol.")
    parser.add_argument("--adapter", default=_DEFAULTS["--adapter"],
                        help="module[:ClassName] defining @command functions "
                             "(default: snakepit_bridge.generic)")
    parser.add_argument("--protocol", default=_DEFAULTS["--protocol"],
                        help="native (default, or $SNAKEPIT_PROTOCOL) or snakepit-v0")
    args = parser.parse_args(argv)
    return args.adapter, args.protocol


def main(argv=None):
    _set_handler(SIGTERM, _on_sigterm)
    _register_stack_dump()
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    adapter_spec, protocol = _parse_args(argv)
    protocol = protocol or os.environ.get("SNAKEPIT_PROTOCOL") or "native"
    try:
        if protocol not in PROTOCOLS:
            raise ConfigError("unknown protocol %r (expected %s)"
                              % (protocol, " or ".join(PROTOCOLS)))
        max_frame = _env_int("SNAKEPIT_MAX_FRAME", DEFAULT_MAX_FRAME, HEADER_SIZE)
        if protocol == "native":
            fd_in = _env_int("SNAKEPIT_FD_IN", 3, 0)
            fd_out = _env_int("SNAKEPIT_FD_OUT", 4, 0)
            _check_fd(fd_in, "SNAKEPIT_FD_IN")
            _check_fd(fd_out, "SNAKEPIT_FD_OUT")
            # Programs the commands exec (os.system, ...) must not hold the
            # protocol pipes open; a plain fork() still inherits them.
            os.set_inheritable(fd_in, False)
            os.set_inheritable(fd_out, False)
        else:
            # Before importing the adapter, so its prints cannot reach the
            # host's end of stdout.
            from .v0 import take_over_stdio
            fd_in, fd_out = take_over_stdio()
        adapter = load_adapter(adapter_spec)
    except (ConfigError, AdapterError) as exc:
        _say(str(exc))
        return EXIT_CONFIG

    state = BridgeState(adapter, protocol=protocol)
    if protocol == "native":
        from .runtime import NativeBridge
        bridge = NativeBridge(adapter, state, fd_in, fd_out, max_frame)
    else:
        from .v0 import V0Bridge
        bridge = V0Bridge(adapter, state, fd_in, fd_out, max_frame)

    gc.collect()
    gc.freeze()
    try:
        if protocol == "native":
            bridge.send_hello()
        return bridge.serve()
    except ProtocolError as exc:
        _say("protocol error: %s" % exc)
        return EXIT_PROTOCOL
    except BrokenPipeError:
        _say("the host closed the protocol pipe; exiting")
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
