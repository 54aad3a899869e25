"""snakepit-v0 compatibility protocol (docs/protocol.md, "snakepit-v0").

Frames are a 4-byte big-endian length then UTF-8 JSON, on stdin/stdout.
Request ``{"id", "command", "args", "timestamp"}``; response
``{"id", "success": true, "result", "timestamp"}`` or
``{"id", "success": false, "error": "<Type>: <message>", "timestamp"}``.
"""

import os
import struct

try:  # the C classes without datetime.py's pure-Python ones (~2 ms)
    from _datetime import datetime as _datetime, timezone as _timezone
except ImportError:  # pragma: no cover
    from datetime import datetime as _datetime, timezone as _timezone

from .codec import dumps, loads
from .context import Context
from .errors import make_error
from .framing import DEFAULT_MAX_FRAME, ProtocolError, write_all
from .runtime import encode_result, run_command, sleep_forever

_LENGTH = struct.Struct(">I")
_READ_SIZE = 1 << 16
_UTC = _timezone.utc


def timestamp():
    """Now as ISO-8601 UTC, e.g. 2024-05-01T12:00:00.123456Z."""
    return _datetime.now(_UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def take_over_stdio():
    """Move the protocol off fds 0/1 -> (fd_in, fd_out).

    The protocol keeps private duplicates of stdin/stdout; fd 0 becomes
    /dev/null and fd 1 a copy of stderr, so nothing a command prints or reads
    (Python code, C extensions, child processes) can touch the protocol.
    """
    fd_in = os.dup(0)
    fd_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return fd_in, fd_out


class MessageReader:
    """Reads length-prefixed messages; None at end of input."""

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME):
        self.fd = fd
        self.max_frame = max_frame
        self._buf = bytearray()

    def read_message(self, _read=os.read, _unpack=_LENGTH.unpack_from):
        buf = self._buf
        while True:
            if len(buf) >= 4:
                (length,) = _unpack(buf)
                if length > self.max_frame:
                    raise ProtocolError("message length %d exceeds the maximum %d"
                                        % (length, self.max_frame))
                end = 4 + length
                if len(buf) >= end:
                    message = buf[4:end]
                    del buf[:end]
                    return message
                want = max(end - len(buf), _READ_SIZE)
            else:
                want = _READ_SIZE
            data = _read(self.fd, want)
            if not data:
                return None
            buf += data


class V0Bridge:
    """Serves one adapter over snakepit-v0 on (fd_in, fd_out)."""

    def __init__(self, adapter, state, fd_in, fd_out, max_frame=DEFAULT_MAX_FRAME):
        self.adapter = adapter
        self.state = state
        self.fd_out = fd_out
        self.max_frame = max_frame
        self.reader = MessageReader(fd_in, max_frame)

    def serve(self):
        """Run until end of input; returns the exit code. Raises ProtocolError."""
        read_message = self.reader.read_message
        commands = self.adapter.commands
        state = self.state
        while True:
            message = read_message()
            if message is None:
                if state.ignore_shutdown:
                    sleep_forever()
                return 0
            try:
                request = loads(message)
            except ValueError as exc:
                raise ProtocolError("message is not valid JSON: %s" % exc) from None
            if type(request) is not dict or "id" not in request:
                raise ProtocolError('a request must be a JSON object with an "id"')
            request_id = request["id"]
            name = request.get("command")
            ctx = Context(request_id, name, None, state)
            ok, value = run_command(commands, ctx, name, request.get("args"))
            self._respond(request_id, name, ok, value)
            state.requests += 1
            if state.exit_after_response is not None:
                os._exit(state.exit_after_response)
            if state.hang_after_response:
                sleep_forever()

    def _respond(self, request_id, name, ok, value):
        if ok:
            response = {"id": request_id, "success": True, "result": value,
                        "timestamp": timestamp()}
            try:
                body = dumps(response).encode("utf-8")
            except Exception:
                # Only the result can fail to encode: get its error object.
                ok, data = encode_result(name, value, self.max_frame)
                if data.__class__ is bytes:
                    value = loads(data)
                else:  # byte strings: the native protocol's BINARY only
                    value = make_error(
                        "Internal", "TypeError",
                        "result of '%s' holds byte strings, which snakepit-v0 cannot carry"
                        % name)
            else:
                if len(body) <= self.max_frame:
                    write_all(self.fd_out, _LENGTH.pack(len(body)) + body)
                    return
                value = make_error(
                    "ResourceExhausted", "FrameTooLarge",
                    "response to '%s' is %d bytes, above the maximum of %d bytes"
                    % (name, len(body), self.max_frame))
        error = "%s: %s" % (value.get("type", "Error"), value.get("message", ""))
        body = dumps({"id": request_id, "success": False, "error": error,
                      "timestamp": timestamp()}).encode("utf-8", "replace")
        write_all(self.fd_out, _LENGTH.pack(len(body)) + body)
