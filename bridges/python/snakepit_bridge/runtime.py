"""The native protocol loop (docs/protocol.md, "Native protocol").

Commands run synchronously, one at a time, in the main thread. The loop is
the hot path of the pool, so it avoids per-frame overhead: one read() per
small frame, one write() per response, precompiled struct, JSON coders bound
once (codec.py), names bound to locals.
"""

import os
import sys
import time

from . import __version__
from .codec import dumps, loads
from .context import Context
from .errors import error_from_exception, make_error
from .framing import (CANCEL, FLAG_ERROR, HEADER, HEADER_SIZE, HELLO, PING,
                      PONG, REQUEST, RESPONSE, SHUTDOWN, FrameReader,
                      ProtocolError, write_all)
from .registry import unknown_command_error


def _format_traceback(exc):
    # Skip the bridge's own frame (run_command) so the traceback starts in
    # the command.
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    import traceback  # only now: it costs milliseconds to import
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_command(commands, ctx, name, args):
    """Run one command: (True, result) or (False, error object)."""
    if type(name) is not str:
        return False, make_error("InvalidArgument", "TypeError",
                                 'the request\'s "command" must be a string')
    cmd = commands.get(name)
    if cmd is None:
        return False, unknown_command_error(name, commands)
    if type(args) is not dict:
        if args is not None:
            return False, make_error(
                "InvalidArgument", "TypeError",
                "%s: \"args\" must be a JSON object, not %s" % (name, _json_type(args)))
        args = {}
    try:
        cmd.check(ctx, args)
    except TypeError as exc:
        return False, make_error("InvalidArgument", "TypeError", "%s(): %s" % (name, exc))
    try:
        return True, cmd.fn(ctx, **args)
    except Exception as exc:
        return False, error_from_exception(exc, _format_traceback(exc))


def _json_type(value):
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def encode_result(name, value, max_payload):
    """(ok, payload bytes): the JSON of ``value``, or of an error object if it
    cannot be encoded or is too large."""
    try:
        data = dumps(value).encode("utf-8")
    except Exception as exc:
        import traceback
        err = error_from_exception(
            exc, traceback.format_exc(),
            "result of '%s' is not JSON-serializable: " % name)
        return False, encode_error(err)
    if len(data) > max_payload:
        return False, encode_error(make_error(
            "ResourceExhausted", "FrameTooLarge",
            "result of '%s' is %d bytes of JSON, above the maximum payload of %d bytes"
            % (name, len(data), max_payload)))
    return True, data


def encode_error(err):
    # Error text may hold lone surrogates (e.g. from undecodable file names);
    # replace them rather than fail.
    return dumps(err).encode("utf-8", "replace")


def sleep_forever():
    while True:
        time.sleep(3600)


class NativeBridge:
    """Serves one adapter over the native protocol on (fd_in, fd_out)."""

    def __init__(self, adapter, state, fd_in, fd_out, max_frame):
        self.adapter = adapter
        self.state = state
        self.fd_out = fd_out
        self.max_payload = max_frame - HEADER_SIZE
        self.reader = FrameReader(fd_in, max_frame)
        state.poll_cancel = self._poll_cancel

    def send_hello(self):
        hello = {
            "protocol": 1,
            "pid": os.getpid(),
            "bridge": "python",
            "bridge_version": __version__,
            "adapter": self.adapter.spec,
            "commands": self.adapter.command_names,
        }
        payload = dumps(hello).encode("utf-8")
        write_all(self.fd_out, HEADER.pack(HEADER_SIZE + len(payload), HELLO, 0, 0, 0) + payload)

    def serve(self):
        """Run until shutdown or end of input; returns the exit code.

        Raises ProtocolError on a malformed frame from the host.
        """
        read_frame = self.reader.read_frame
        handle_request = self._handle_request
        fd_out = self.fd_out
        pack = HEADER.pack
        while True:
            frame = read_frame()
            if frame is None:
                return self._finish()
            kind, _flags, frame_id, payload = frame
            if kind == REQUEST:
                handle_request(frame_id, payload)
            elif kind == PING:
                write_all(fd_out, pack(HEADER_SIZE, PONG, 0, 0, frame_id))
            elif kind == SHUTDOWN:
                return self._finish()
            # CANCEL: commands run synchronously, so between requests nothing
            # is running and a cancel is late: ignore it.

    def _handle_request(self, frame_id, payload,
                        _loads=loads, _run=run_command, _encode=encode_result,
                        _pack=HEADER.pack, _write=write_all):
        try:
            request = _loads(payload)
        except ValueError as exc:
            raise ProtocolError("request %d: payload is not valid JSON: %s"
                                % (frame_id, exc)) from None
        state = self.state
        if type(request) is dict:
            name = request.get("command")
            ctx = Context(frame_id, name, None, state)
            ok, value = _run(self.adapter.commands, ctx, name, request.get("args"))
        else:
            name = None
            ok, value = False, make_error(
                "InvalidArgument", "TypeError",
                "request payload must be a JSON object, not %s" % _json_type(request))
        if ok:
            ok, data = _encode(name, value, self.max_payload)
        else:
            data = encode_error(value)
        _write(self.fd_out, _pack(HEADER_SIZE + len(data), RESPONSE,
                                  0 if ok else FLAG_ERROR, 0, frame_id) + data)
        state.requests += 1
        if state.exit_after_response is not None:
            _exit_now(state.exit_after_response)

    def _poll_cancel(self, request_id):
        reader = self.reader
        reader.poll()
        for kind, frame_id in reader.buffered_frames():
            if kind == CANCEL and frame_id == request_id:
                return True
        return False

    def _finish(self):
        if self.state.ignore_shutdown:
            sleep_forever()
        return 0


def _exit_now(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
