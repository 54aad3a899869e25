"""The native protocol loop (docs/protocol.md, "Native protocol").

Commands run synchronously, one at a time, in the main thread. The loop is
the hot path of the pool, so it avoids per-frame overhead: one read() per
small frame, one write() per response, precompiled struct, JSON coders bound
once (codec.py), names bound to locals. Requests without flags go through
NativeBridge._request_handler, a closure that runs the C scanner and the
C encoder (codec.fast_encoder, no circular-reference markers) directly and
writes header and body with one os.write; anything unusual falls back,
before or after the command, to the general code, which reports errors as
always (tests/python/test_fast_paths.py compares the two). A large frame
is read straight into its final bytes object (framing.FrameReader).

A command may call the host (``ctx.call``, ``ctx.session``): the bridge
writes a ``call`` frame and reads frames until the matching ``reply``,
handling ``cancel``, ``ping`` and ``shutdown`` meanwhile (NativeBridge.call).
Nothing of that runs for requests that make no calls.

Requests with flags take a separate path (NativeBridge._handle_flagged), so
the flags cost plain requests nothing. ``BINARY``: the payload is decoded by
codec.loads_binary (byte strings become ``bytes``). ``STREAM``: the reply is
``chunk`` frames then one ``end`` (NativeBridge._handle_stream); between
chunks the bridge peeks for a ``cancel`` at most every _CANCEL_POLL_S.
A streaming command (``@command(streaming=True)``) asked without ``STREAM``
answers with the list of its chunks (run_command, collect_stream).

Results, chunks and call arguments holding byte strings are found by the
JSON encoder's ``default`` hook (codec.dumps_result), which costs nothing
for values without any; such frames get ``BINARY`` and are written with one
``os.writev`` of header + JSON and the byte strings themselves (write_parts).
"""

import os
import sys
import time

from . import __version__
from .codec import (JSON_LENGTH, BinaryPayloadError, HasBytes, _scan_once, dumps,
                    dumps_result, dumps_with_bytes, fast_encoder, loads,
                    loads_binary)
from .context import Context
from .errors import (CODES, InvalidArgument, ResourceExhausted,
                     error_from_exception, host_call_error_class, make_error)
from .framing import (CALL, CANCEL, CHUNK, END, FLAG_BINARY, FLAG_ERROR,
                      FLAG_STREAM, HEADER, HEADER_SIZE, HELLO, PING, PONG,
                      REPLY, REQUEST, RESPONSE, SHUTDOWN, FrameReader,
                      ProtocolError, write_all, writev_all)
from .registry import unknown_command_error

# While a stream runs: the longest time between two peeks for a ``cancel``
# (each is a select() on the input pipe), when chunks come faster than that.
_CANCEL_POLL_S = 0.001


def _format_traceback(exc):
    # Skip the bridge's own frame (run_command) so the traceback starts in
    # the command.
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    import traceback  # only now: it costs milliseconds to import
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_command(commands, ctx, name, args, collect=True):
    """Run one command: (True, result) or (False, error object).

    A streaming command's result is the list of its chunks (collect_stream);
    with ``collect`` False, what its function returned (an iterator).
    """
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
    if args or not cmd.empty_ok:
        try:
            cmd.check(ctx, args)
        except TypeError as exc:
            return False, make_error("InvalidArgument", "TypeError", "%s(): %s" % (name, exc))
    try:
        result = cmd.fn(ctx, **args) if args else cmd.fn(ctx)
    except Exception as exc:
        return False, error_from_exception(exc, _format_traceback(exc))
    if cmd.streaming and collect:
        return collect_stream(ctx, name, result)
    return True, result


def _not_iterable(name, result):
    return make_error("Internal", "TypeError",
                      "streaming command '%s' returned %s, which is not iterable"
                      % (name, type(result).__name__))


def stream_cancelled_error():
    return make_error("Cancelled", "Cancelled", "stream cancelled by the host")


def close_iterator(it):
    """Stop a stream's iterator early (gen.close()); errors are dropped."""
    close = getattr(it, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def collect_stream(ctx, name, result, _monotonic=time.monotonic):
    """A streaming command asked without STREAM: (True, list of its chunks),
    or (False, error object) if it raised or was cancelled (checked at most
    every _CANCEL_POLL_S between chunks)."""
    try:
        it = iter(result)
    except TypeError:
        return False, _not_iterable(name, result)
    chunks = []
    append = chunks.append
    next_chunk = it.__next__
    poll_at = _monotonic() + _CANCEL_POLL_S
    while True:
        try:
            append(next_chunk())
        except StopIteration:
            return True, chunks
        except Exception as exc:
            return False, error_from_exception(exc, _format_traceback(exc))
        now = _monotonic()
        if now >= poll_at:
            poll_at = now + _CANCEL_POLL_S
            if ctx.cancelled:
                close_iterator(it)
                return False, stream_cancelled_error()


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


def encode_result(name, value, max_payload, what="result"):
    """(ok, payload): the JSON of ``value`` as bytes, or of an error object
    if it cannot be encoded or is too large (``what``: "result", "chunk", ...
    for the message).

    When ``value`` holds byte strings the payload is instead a tuple
    (json_length + JSON bytes, attachments, payload size) for write_parts.
    """
    data = None
    try:
        data = "".join(fast_encoder(value, 0)).encode("utf-8")
    except HasBytes:
        data = HasBytes
    except Exception:  # the checked encoder reports it (outside this except
        pass           # block: no "During handling..." in the traceback)
    if data is HasBytes:
        return _encode_with_bytes(name, value, max_payload, what)
    if data is None or len(data) > max_payload:
        return _encode_checked(name, value, max_payload, what)
    return True, data


def _encode_checked(name, value, max_payload, what):
    """encode_result with the checked encoder (codec.dumps_result: circular
    references are a ValueError), for values the fast one refused."""
    try:
        data = dumps_result(value).encode("utf-8")
    except HasBytes:
        return _encode_with_bytes(name, value, max_payload, what)
    except Exception as exc:
        return False, _not_serializable(name, exc, what)
    if len(data) > max_payload:
        return False, encode_error(make_error(
            "ResourceExhausted", "FrameTooLarge",
            "%s of '%s' is %d bytes of JSON, above the maximum payload of %d bytes"
            % (what, name, len(data), max_payload)))
    return True, data


def _not_serializable(name, exc, what):
    import traceback
    err = error_from_exception(
        exc, traceback.format_exc(),
        "%s of '%s' is not JSON-serializable: " % (what, name))
    return encode_error(err)


def _encode_with_bytes(name, value, max_payload, what):
    try:
        text, attachments, attached = dumps_with_bytes(value)
        data = text.encode("utf-8")
    except Exception as exc:
        return False, _not_serializable(name, exc, what)
    size = 4 + len(data) + attached
    if size > max_payload:
        return False, encode_error(make_error(
            "ResourceExhausted", "FrameTooLarge",
            "%s of '%s' is %d bytes (%d of JSON, %d in byte strings), above the "
            "maximum payload of %d bytes"
            % (what, name, size, len(data), attached, max_payload)))
    return True, (JSON_LENGTH.pack(len(data)) + data, attachments, size)


def write_parts(fd, kind, flags, frame_id, parts):
    """Write a BINARY frame from encode_result's tuple with one writev (the
    byte strings are not copied)."""
    head, attachments, size = parts
    writev_all(fd, [HEADER.pack(HEADER_SIZE + size, kind, flags | FLAG_BINARY, 0, frame_id)
                    + head] + attachments)


def _bad_payload(what, frame_id, exc):
    if isinstance(exc, BinaryPayloadError):
        return ProtocolError("%s %d: bad binary payload: %s" % (what, frame_id, exc))
    return ProtocolError("%s %d: payload is not valid JSON: %s" % (what, frame_id, exc))


def encode_error(err):
    # Error text may hold lone surrogates (e.g. from undecodable file names);
    # replace them rather than fail.
    return dumps(err).encode("utf-8", "replace")


def sleep_forever():
    while True:
        time.sleep(3600)


class _StopServing(BaseException):
    """Unwinds a running command when the bridge must stop serving: end of
    input (``error`` None) or a protocol error (``error``) while it waited
    for a reply; raised again after the command if the command swallowed it.
    Also raised (``error`` None) after the response to a command during
    which ``shutdown`` arrived.

    A BaseException, so that ``except Exception`` (in run_command and in
    commands) lets it through.
    """

    def __init__(self, error=None):
        super().__init__(error)
        self.error = error


# NativeBridge._pending: a shutdown arrived while a command waited for a reply.
_SHUTDOWN = "shutdown"


def host_call_error(function, err):
    """The HostCallError for the error object ``err`` of a reply to a call
    of ``function`` (a missing or unknown code means Internal); an instance
    of errors.host_call_error_class(code) too (e.g. also a NotFound)."""
    if type(err) is not dict:
        err = {"message": err} if type(err) is str else {}
    code = err.get("code")
    message = err.get("message")
    details = err.get("details")
    type_name = err.get("type")
    return host_call_error_class(code)(
        message if type(message) is str else "call to %s failed" % function,
        code=code if code in CODES else "Internal",
        type=type_name if type(type_name) is str and type_name else None,
        details=details if type(details) is dict else {},
        function=function)


class NativeBridge:
    """Serves one adapter over the native protocol on (fd_in, fd_out)."""

    def __init__(self, adapter, state, fd_in, fd_out, max_frame):
        self.adapter = adapter
        self.state = state
        self.fd_out = fd_out
        self.max_payload = max_frame - HEADER_SIZE
        self.reader = FrameReader(fd_in, max_frame)
        self.next_call_id = 1
        # None; _SHUTDOWN; or the _StopServing a call raised (checked after
        # each command).
        self._pending = None
        state.poll_cancel = self._poll_cancel
        state.call_host = self.call

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
        handle_request = self._request_handler()
        handle_flagged = self._handle_flagged
        fd_out = self.fd_out
        pack = HEADER.pack
        try:
            while True:
                frame = read_frame()
                if frame is None:
                    return self._finish()
                kind, flags, frame_id, payload = frame
                if kind == REQUEST:
                    if flags:
                        handle_flagged(frame_id, flags, payload)
                    else:
                        handle_request(frame_id, payload)
                elif kind == PING:
                    write_all(fd_out, pack(HEADER_SIZE, PONG, 0, 0, frame_id))
                elif kind == SHUTDOWN:
                    return self._finish()
                elif kind == REPLY:
                    raise ProtocolError("reply %d while no call is waiting" % frame_id)
                # CANCEL: commands run synchronously, so between requests
                # nothing is running and a cancel is late: ignore it.
        except _StopServing as stop:
            if stop.error is not None:
                raise stop.error from None
            return self._finish()

    def _request_handler(self):
        """The handler of requests without flags: (frame_id, payload) -> None.

        The hot path, a closure over everything it needs: _handle_request
        with the JSON scanner and the response's write inlined. A payload that is not
        a JSON object in one scan or whose ``session`` is not a string goes
        to _handle_request (before any command runs), which reports it.
        """
        general = self._handle_request
        commands = self.adapter.commands
        state = self.state
        fd_out = self.fd_out
        max_payload = self.max_payload
        bridge = self

        def handle_request(frame_id, payload, _scan=_scan_once, _dict=dict, _type=type,
                           _len=len, _bytes=bytes, _context=Context, _run=run_command,
                           _encode=encode_result, _pack=HEADER.pack,
                           _write=os.write, _shutdown=_SHUTDOWN):
            try:
                text = payload.decode()
                request, end = _scan(text, 0)
            except Exception:  # bad UTF-8 or JSON, whitespace around it, ...
                return general(frame_id, payload)
            if end != _len(text) or _type(request) is not _dict:
                return general(frame_id, payload)
            session = request.get("session")
            if session is not None and _type(session) is not str:
                return general(frame_id, payload)
            name = request.get("command")
            ok, value = _run(commands, _context(frame_id, name, None, state, session),
                             name, request.get("args"))
            request = None
            pending = bridge._pending
            if pending is not None and pending is not _shutdown:
                raise pending  # the command swallowed end of input or a protocol error
            if ok:
                ok, data = _encode(name, value, max_payload)
            else:
                data = encode_error(value)
            value = None
            if data.__class__ is not _bytes or pending is not None:
                return bridge._send_final(RESPONSE, frame_id, ok, data, pending)
            frame = _pack(HEADER_SIZE + _len(data), RESPONSE, 0 if ok else FLAG_ERROR, 0,
                          frame_id) + data
            n = _write(fd_out, frame)
            if n != _len(frame):
                write_all(fd_out, memoryview(frame)[n:])  # a partial write
            state.requests += 1
            if state.exit_after_response is not None:
                exit_now(state.exit_after_response)
            if state.hang_after_response:
                sleep_forever()

        return handle_request

    def _handle_request(self, frame_id, payload,
                        _loads=loads, _run=run_command, _encode=encode_result):
        try:
            request = _loads(payload)
        except ValueError as exc:
            raise _bad_payload("request", frame_id, exc) from None
        state = self.state
        if type(request) is dict:
            name = request.get("command")
            session = request.get("session")
            if session is None or type(session) is str:
                ctx = Context(frame_id, name, None, state, session)
                ok, value = _run(self.adapter.commands, ctx, name, request.get("args"))
            else:
                ok, value = False, make_error(
                    "InvalidArgument", "TypeError",
                    "the request's \"session\" must be a string, not %s" % _json_type(session))
        else:
            name = None
            ok, value = False, make_error(
                "InvalidArgument", "TypeError",
                "request payload must be a JSON object, not %s" % _json_type(request))
        pending = self._pending
        if pending is not None and pending is not _SHUTDOWN:
            raise pending  # the command swallowed end of input or a protocol error
        if ok:
            ok, data = _encode(name, value, self.max_payload)
        else:
            data = encode_error(value)
        self._send_final(RESPONSE, frame_id, ok, data, pending)

    def _handle_flagged(self, frame_id, flags, payload):
        """A request with flags: BINARY and/or STREAM (others are ignored)."""
        decode = loads_binary if flags & FLAG_BINARY else loads
        if flags & FLAG_STREAM:
            self._handle_stream(frame_id, payload, decode)
        else:
            self._handle_request(frame_id, payload, decode)

    def _handle_stream(self, frame_id, payload, decode):
        """A request with STREAM: chunks (if the command streams), then one
        ``end`` with the final value or an error object."""
        try:
            request = decode(payload)
        except ValueError as exc:
            raise _bad_payload("request", frame_id, exc) from None
        state = self.state
        commands = self.adapter.commands
        name = None
        if type(request) is dict:
            name = request.get("command")
            session = request.get("session")
            if session is None or type(session) is str:
                ctx = Context(frame_id, name, None, state, session)
                ok, value = run_command(commands, ctx, name, request.get("args"), False)
                if ok and commands[name].streaming:
                    ok, data = self._pump(ctx, name, value)
                    value = None
                elif ok:
                    ok, data = encode_result(name, value, self.max_payload)
                else:
                    data = encode_error(value)
            else:
                ok, data = False, encode_error(make_error(
                    "InvalidArgument", "TypeError",
                    "the request's \"session\" must be a string, not %s" % _json_type(session)))
        else:
            ok, data = False, encode_error(make_error(
                "InvalidArgument", "TypeError",
                "request payload must be a JSON object, not %s" % _json_type(request)))
        pending = self._pending
        if pending is not None and pending is not _SHUTDOWN:
            raise pending  # the command swallowed end of input or a protocol error
        self._send_final(END, frame_id, ok, data, pending)

    def _send_final(self, kind, frame_id, ok, data, pending,
                    _pack=HEADER.pack, _write=write_all):
        """Write the request's last frame (``response`` or ``end``): ``data``
        is the encoded payload (bytes), or parts with attachments (BINARY).
        Then the test hooks, and a shutdown that arrived meanwhile."""
        if data.__class__ is bytes:
            _write(self.fd_out, _pack(HEADER_SIZE + len(data), kind,
                                      0 if ok else FLAG_ERROR, 0, frame_id) + data)
        else:
            write_parts(self.fd_out, kind, 0, frame_id, data)
        state = self.state
        state.requests += 1
        if state.exit_after_response is not None:
            exit_now(state.exit_after_response)
        if state.hang_after_response:
            sleep_forever()
        if pending is not None:
            raise _StopServing()  # shutdown arrived while the command ran

    def _pump(self, ctx, name, result, _monotonic=time.monotonic,
              _encode=encode_result, _enc=fast_encoder, _join="".join, _pack=HEADER.pack,
              _write=os.write):
        """Send the chunks of a streaming command's iterator; (ok, encoded
        payload of the ``end`` frame): its return value, or the error
        object if it raised, a chunk could not be sent, or the host
        cancelled the request (checked between chunks)."""
        try:
            it = iter(result)
        except TypeError:
            return False, encode_error(_not_iterable(name, result))
        del result
        next_chunk = it.__next__
        fd = self.fd_out
        request_id = ctx.request_id
        max_payload = self.max_payload
        poll_cancel = self._poll_cancel
        poll_at = _monotonic() + _CANCEL_POLL_S
        while True:
            try:
                value = next_chunk()
            except StopIteration as stop:
                return _encode(name, stop.value, max_payload)
            except Exception as exc:
                return False, encode_error(error_from_exception(exc, _format_traceback(exc)))
            if self._pending is not None and self._pending is not _SHUTDOWN:
                close_iterator(it)
                raise self._pending  # the command swallowed end of input or a protocol error
            try:
                data = _join(_enc(value, 0)).encode()
            except Exception:  # byte strings, or not JSON: the general path
                data = None
            if data is None or len(data) > max_payload:
                ok, data = _encode(name, value, max_payload, "chunk")
                if not ok:
                    close_iterator(it)
                    return False, data
            value = None
            if data.__class__ is bytes:
                frame = _pack(HEADER_SIZE + len(data), CHUNK, 0, 0, request_id) + data
                n = _write(fd, frame)
                if n != len(frame):
                    write_all(fd, memoryview(frame)[n:])  # a partial write
            else:
                write_parts(fd, CHUNK, 0, request_id, data)
            data = frame = None
            if ctx._cancelled:
                break
            now = _monotonic()
            if now >= poll_at:
                poll_at = now + _CANCEL_POLL_S
                if poll_cancel(request_id):
                    ctx.cancel()
                    break
        close_iterator(it)
        return False, encode_error(stream_cancelled_error())

    def call(self, ctx, function, args):
        """Call ``function`` on the host with ``args`` on behalf of ``ctx``'s
        request; the reply's result (Context.call documents the errors).

        Writes a ``call`` frame with the next call id and reads frames until
        the ``reply`` with that id: a ``cancel`` for the request marks ctx
        cancelled (others are late and ignored), a ``ping`` is answered at
        once, a ``shutdown`` takes effect after the command's response. Any
        other frame is a protocol error and end of input ends the bridge;
        both unwind the command with _StopServing (no response).
        """
        if type(function) is not str:
            raise InvalidArgument("the function to call must be a string, not %s"
                                  % _json_type(function), type="TypeError")
        if self._pending is not None and self._pending is not _SHUTDOWN:
            raise self._pending  # a previous call already ended the conversation
        # Keys in sorted order, like the host's JSON (and the golden frames).
        body = {"args": args, "function": function}
        attachments = None
        try:
            try:
                payload = dumps_result(body).encode("utf-8")
            except HasBytes:
                text, attachments, attached = dumps_with_bytes(body)
                payload = text.encode("utf-8")
        except ValueError as exc:  # NaN, circular, lone surrogates
            raise InvalidArgument("arguments of the call to %s are not JSON: %s"
                                  % (function, exc), type=type(exc).__name__) from None
        except TypeError as exc:
            raise InvalidArgument("arguments of the call to %s are not JSON: %s"
                                  % (function, exc), type="TypeError") from None
        size = len(payload) if attachments is None else 4 + len(payload) + attached
        if size > self.max_payload:
            raise ResourceExhausted(
                "the call to %s is %d bytes, above the maximum payload of %d bytes"
                % (function, size, self.max_payload),
                type="FrameTooLarge", details={"reason": "call_too_large"})
        call_id = self.next_call_id
        self.next_call_id = call_id + 1
        if attachments is None:
            self._write(HEADER.pack(HEADER_SIZE + size, CALL, 0, 0, call_id) + payload)
        else:
            parts = (JSON_LENGTH.pack(len(payload)) + payload, attachments, size)
            del body, attachments, payload
            self._write_parts(CALL, call_id, parts)
            del parts
        return self._wait_reply(ctx, function, call_id)

    def _wait_reply(self, ctx, function, call_id):
        read_frame = self.reader.read_frame
        while True:
            error = None
            try:
                frame = read_frame()
            except ProtocolError as exc:
                error = exc
            if error is not None or frame is None:
                self._stop(error)
            kind, flags, frame_id, payload = frame
            if kind == REPLY:
                if frame_id != call_id:
                    self._stop(ProtocolError("reply %d while waiting for the reply to call %d"
                                             % (frame_id, call_id)))
                try:
                    value = loads_binary(payload) if flags & FLAG_BINARY else loads(payload)
                except ValueError as exc:
                    error = _bad_payload("reply", frame_id, exc)
                if error is not None:
                    self._stop(error)
                if flags & FLAG_ERROR:
                    raise host_call_error(function, value)
                return value
            if kind == CANCEL:
                if frame_id == ctx.request_id:
                    ctx.cancel()
            elif kind == PING:
                self._write(HEADER.pack(HEADER_SIZE, PONG, 0, 0, frame_id))
            elif kind == SHUTDOWN:
                self._pending = _SHUTDOWN
            else:  # REQUEST
                self._stop(ProtocolError(
                    "request %d while request %d waits for the reply to call %d"
                    % (frame_id, ctx.request_id, call_id)))

    def _write(self, data):
        try:
            write_all(self.fd_out, data)
        except BrokenPipeError:
            self._stop(None)  # the host is gone: like end of input

    def _write_parts(self, kind, frame_id, parts):
        try:
            write_parts(self.fd_out, kind, 0, frame_id, parts)
        except BrokenPipeError:
            self._stop(None)

    def _stop(self, error):
        stop = self._pending = _StopServing(error)
        raise stop

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


def exit_now(code):
    """Flush stdout and stderr, then exit at once with ``code``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
