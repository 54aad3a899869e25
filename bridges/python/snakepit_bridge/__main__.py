"""python3 -m snakepit_bridge --adapter <module>[:<Class>] [--protocol native|snakepit-v0]

Exit codes: 0 shutdown / end of input / SIGTERM; 2 bad adapter or
configuration (before hello); 3 protocol error from the host.

Environment (native): SNAKEPIT_FD_IN (default 3), SNAKEPIT_FD_OUT (default 4),
SNAKEPIT_MAX_FRAME (default 64 MiB), SNAKEPIT_WORKER_ID, SNAKEPIT_PROTOCOL
(default for --protocol).

After start-up the bridge calls gc.freeze(): everything loaded so far (the
adapter's modules, the bridge) moves to the permanent generation, so the
cyclic collector never rescans it while serving requests. Automatic
collection stays on for objects commands create.
"""

import argparse
import gc
import os
import signal
import sys

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


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m snakepit_bridge",
        description="Serve a Snakepit adapter over the worker protocol.")
    parser.add_argument("--adapter", default="snakepit_bridge.generic",
                        help="module[:ClassName] defining @command functions "
                             "(default: snakepit_bridge.generic)")
    parser.add_argument("--protocol", default=None,
                        help="native (default, or $SNAKEPIT_PROTOCOL) or snakepit-v0")
    return parser.parse_args(argv)


def main(argv=None):
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    args = _parse_args(argv)
    protocol = args.protocol or os.environ.get("SNAKEPIT_PROTOCOL") or "native"
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
        adapter = load_adapter(args.adapter)
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
