"""Shared helpers: paths, and a host-side driver for bridge processes."""

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRIDGE_DIR = os.path.join(ROOT, "bridges", "python")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
ADAPTERS_DIR = os.path.join(FIXTURES, "adapters")
WORKERS_DIR = os.path.join(FIXTURES, "workers")
GOLDEN = os.path.join(FIXTURES, "golden_frames.json")

for _path in (ADAPTERS_DIR, BRIDGE_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Hang protection only: no test waits on these unless something is broken.
TIMEOUT = 10.0

HEADER = struct.Struct(">IBBHQ")
HELLO, REQUEST, RESPONSE, CALL, REPLY, CANCEL, PING, PONG, SHUTDOWN = 1, 2, 3, 6, 7, 8, 9, 10, 11
CHUNK, END = 4, 5
ERROR, BINARY, STREAM = 0x01, 0x02, 0x04

# The generic adapter's commands, sorted (hello, info, unknown-command errors).
GENERIC_COMMANDS = ["call_host", "checksum", "compute", "count", "crash", "echo",
                    "info", "local_counter", "ping", "session_append", "session_get",
                    "session_info", "session_put", "session_sum", "sleep",
                    "stream_bytes", "stream_calls", "transform"]


def child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [BRIDGE_DIR, ADAPTERS_DIR] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("SNAKEPIT_FD_IN", None)
    env.pop("SNAKEPIT_FD_OUT", None)
    env.pop("SNAKEPIT_PROTOCOL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def frame(kind, frame_id, payload=b"", flags=0):
    if not isinstance(payload, (bytes, bytearray)):
        payload = compact(payload)
    return HEADER.pack(12 + len(payload), kind, flags, 0, frame_id) + payload


def binary_payload(value):
    """A BINARY payload for ``value`` (byte strings anywhere in it), made
    independently of the bridge's codec: json_length, JSON, attachments."""
    attachments = []
    offset = 0

    def placeholders(v):
        nonlocal offset
        if isinstance(v, (bytes, bytearray, memoryview)):
            data = bytes(v)
            attachments.append(data)
            offset += len(data)
            return {"$bytes": [offset - len(data), len(data)]}
        if isinstance(v, dict):
            return {k: placeholders(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [placeholders(x) for x in v]
        return v
    text = compact(placeholders(value))
    return struct.pack(">I", len(text)) + text + b"".join(attachments)


def binary_frame(kind, frame_id, value, flags=0):
    """A frame with the BINARY flag carrying ``value``."""
    return frame(kind, frame_id, binary_payload(value), flags | BINARY)


def decode_binary_payload(payload):
    """The value of a BINARY payload, placeholders replaced by bytes
    (strict, like the host: a bad placeholder raises ValueError)."""
    (json_length,) = struct.unpack_from(">I", payload)
    if json_length > len(payload) - 4:
        raise ValueError("json_length %d beyond the payload" % json_length)
    attachments = payload[4 + json_length:]

    def hook(obj):
        if len(obj) == 1 and "$bytes" in obj:
            offset, length = obj["$bytes"]
            if offset < 0 or length < 0 or offset + length > len(attachments):
                raise ValueError("placeholder out of range: %r" % (obj,))
            return bytes(attachments[offset:offset + length])
        return obj
    return json.loads(bytes(payload[4:4 + json_length]), object_hook=hook)


class PipeReader:
    """Reads exact byte counts from a pipe with a hang-protection timeout."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()

    def read_exact(self, n, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        buf = self.buf
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("no data from the worker within %.0f s" % timeout)
            chunk = os.read(self.fd, max(1 << 16, min(n - len(buf), 1 << 20)))
            if not chunk:
                raise EOFError("worker closed its end (%d of %d bytes)" % (len(buf), n))
            buf += chunk
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def at_eof(self, timeout=TIMEOUT):
        """True if the pipe reaches EOF with no more data."""
        if self.buf:
            return False
        if not select.select([self.fd], [], [], timeout)[0]:
            raise TimeoutError("pipe neither closed nor readable")
        return os.read(self.fd, 1) == b""


class HostEnd:
    """The host's end of a native conversation: ``to_child`` (fd the host
    writes) and ``reader`` (PipeReader on the fd the host reads)."""

    def send(self, data):
        os.write(self.to_child, data)

    def send_frame(self, kind, frame_id, payload=b"", flags=0):
        self.send(frame(kind, frame_id, payload, flags))

    def recv_raw(self, timeout=TIMEOUT):
        """The next frame's bytes (length prefix included)."""
        head = self.reader.read_exact(16, timeout)
        return head + self.reader.read_exact(HEADER.unpack(head)[0] - 12, timeout)

    def recv_frame(self, timeout=TIMEOUT):
        """(kind, flags, id, decoded payload or None); byte strings of a
        BINARY payload as bytes."""
        head = self.reader.read_exact(16, timeout)
        length, kind, flags, _, frame_id = HEADER.unpack(head)
        payload = self.reader.read_exact(length - 12, timeout)
        if flags & BINARY:
            return kind, flags, frame_id, decode_binary_payload(payload)
        return kind, flags, frame_id, (json.loads(payload) if payload else None)

    def request(self, frame_id, command, **args):
        self.send_frame(REQUEST, frame_id, {"command": command, "args": args})
        return self.recv_frame()

    def send_request(self, frame_id, command, args=None, flags=0, session=None):
        """A request; with byte strings in ``args`` a BINARY one."""
        body = {"command": command, "args": args or {}}
        if session is not None:
            body["session"] = session
        try:
            self.send(frame(REQUEST, frame_id, compact(body), flags))
        except TypeError:  # bytes in args
            self.send(binary_frame(REQUEST, frame_id, body, flags))

    def recv_stream(self, frame_id, on_frame=None):
        """Frames up to and including the ``end`` of stream ``frame_id``:
        (chunk values, (flags, end value)). ``on_frame(frame)`` sees every
        other frame (calls, pongs; the test fails on any it returns False
        for)."""
        chunks = []
        while True:
            kind, flags, got_id, value = frame_ = self.recv_frame()
            if kind == CHUNK and got_id == frame_id:
                chunks.append(value)
            elif kind == END and got_id == frame_id:
                return chunks, (flags, value)
            elif on_frame is None or on_frame(frame_) is False:
                raise AssertionError("unexpected frame %r during stream %d"
                                     % (frame_[:3], frame_id))

    def close_input(self):
        if self.to_child is not None:
            os.close(self.to_child)
            self.to_child = None


class NativeWorker(HostEnd):
    """Spawns ``python -m snakepit_bridge`` (or a script) with protocol pipes.

    The child gets the host->worker read end and the worker->host write end
    at their own fd numbers, named by SNAKEPIT_FD_IN / SNAKEPIT_FD_OUT.
    """

    def __init__(self, adapter="snakepit_bridge.generic", argv=None, env=None):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        if argv is None:
            argv = [sys.executable, "-m", "snakepit_bridge", "--adapter", adapter]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, pass_fds=(to_child_r, from_child_w),
            env=child_env(SNAKEPIT_FD_IN=to_child_r, SNAKEPIT_FD_OUT=from_child_w,
                          SNAKEPIT_WORKER_ID="test-0.1", **(env or {})),
            cwd=ROOT)
        os.close(to_child_r)
        os.close(from_child_w)
        self.reader = PipeReader(self.from_child)

    def wait(self, timeout=TIMEOUT):
        """Exit code; output is collected into self.stdout / self.stderr."""
        self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def cleanup(self):
        self.close_input()
        try:
            self.kill()
        finally:
            if self.from_child is not None:
                os.close(self.from_child)
                self.from_child = None


class InProcessBridge(HostEnd):
    """A NativeBridge serving ``commands`` (name -> function) in a thread of
    this process over two pipes; the test plays the host. No hello is sent.

    ``wait()`` returns what serve() returned or raises what it raised.
    """

    def __init__(self, commands, max_frame=1 << 20, worker_id="inproc-0", streaming=()):
        from snakepit_bridge.context import BridgeState
        from snakepit_bridge.registry import Adapter, Command
        from snakepit_bridge.runtime import NativeBridge
        bridge_in, self.to_child = os.pipe()
        self.from_child, bridge_out = os.pipe()
        self._bridge_fds = [bridge_in, bridge_out]
        adapter = Adapter("inproc", {name: Command(name, fn, name in streaming)
                                     for name, fn in commands.items()})
        self.state = BridgeState(adapter, worker_id=worker_id)
        self.bridge = NativeBridge(adapter, self.state, bridge_in, bridge_out, max_frame)
        self.reader = PipeReader(self.from_child)
        self._outcome = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self._outcome = (True, self.bridge.serve())
        except BaseException as exc:  # noqa: B902 - reported by wait()
            self._outcome = (False, exc)
        finally:
            # Like a process exit: the host sees end of file.
            os.close(self._bridge_fds.pop())

    def request_with_session(self, frame_id, command, session, **args):
        self.send_frame(REQUEST, frame_id, {"command": command, "args": args,
                                            "session": session})

    def wait(self, timeout=TIMEOUT):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("the bridge thread is still serving")
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def cleanup(self):
        self.close_input()
        self.thread.join(TIMEOUT)
        if not self.thread.is_alive():
            for fd in self._bridge_fds:
                os.close(fd)
            self._bridge_fds = []
        if self.from_child is not None:
            os.close(self.from_child)
            self.from_child = None


class FakeSessionHost:
    """Answers a worker's ``call`` frames the way the host's session store
    does (docs/protocol.md, "Calls to the host"), for one session.

    ``calls``: (call id, payload) of every call seen. ``before_update``: an
    optional hook (host, args) run before answering a ``session.update``
    (e.g. to play another request writing in between).
    """

    def __init__(self, session_id="s-1", worker_id="test-0.1"):
        self.session_id = session_id
        self.worker_id = worker_id
        self.data = {}
        self.version = 0
        self.calls = []
        self.before_update = None

    def answer(self, payload):
        """(flags, result or error object) for a call payload."""
        function, args = payload.get("function"), payload.get("args", {})
        if function == "session.read":
            keys = args.get("keys") or list(self.data)
            return 0, {"values": {k: self.data[k] for k in keys if k in self.data},
                       "version": self.version}
        if function == "session.update":
            if self.before_update is not None:
                self.before_update(self, args)
            if "if_version" in args and args["if_version"] != self.version:
                return ERROR, {"code": "FailedPrecondition",
                               "message": "session version is %d, not %d"
                                          % (self.version, args["if_version"]),
                               "details": {"reason": "version_mismatch"}}
            self.write(args.get("set", {}), args.get("delete", []))
            return 0, {"version": self.version}
        if function == "session.info":
            return 0, {"id": self.session_id, "created": "2024-05-01T12:00:00Z",
                       "last_accessed": "2024-05-01T12:00:01Z",
                       "ttl_s": 3600, "worker_id": self.worker_id, "metadata": {},
                       "keys": len(self.data), "bytes": len(compact(self.data)),
                       "version": self.version}
        return ERROR, {"code": "NotFound", "message": "no host function '%s'" % function,
                       "details": {"reason": "unknown_function"}}

    def write(self, values=(), delete=()):
        """An update as another request would make it."""
        self.data.update(values)
        for key in delete:
            self.data.pop(key, None)
        self.version += 1

    def run(self, end, request_id, command, session="", **args):
        """Send a request (with this session unless ``session`` is None) to
        ``end`` (a HostEnd), answer its calls, return its response frame."""
        body = {"command": command, "args": args}
        if session is not None:
            body["session"] = session or self.session_id
        end.send_frame(REQUEST, request_id, body)
        while True:
            kind, flags, frame_id, payload = end.recv_frame()
            if kind != CALL:
                return kind, flags, frame_id, payload
            self.calls.append((frame_id, payload))
            flags, result = self.answer(payload)
            end.send_frame(REPLY, frame_id, result, flags)


class V0Worker:
    """Spawns a snakepit-v0 worker on stdin/stdout."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=child_env(), cwd=ROOT)
        self.reader = PipeReader(self.proc.stdout.fileno())

    def request(self, request_id, command, args=None):
        body = compact({"id": request_id, "command": command, "args": args or {},
                        "timestamp": "2024-01-01T00:00:00Z"})
        self.proc.stdin.write(struct.pack(">I", len(body)) + body)
        self.proc.stdin.flush()
        return self.recv()

    def recv(self, timeout=TIMEOUT):
        (length,) = struct.unpack(">I", self.reader.read_exact(4, timeout))
        return json.loads(self.reader.read_exact(length, timeout))

    def close_input(self):
        self.proc.stdin.close()

    def wait(self, timeout=TIMEOUT):
        rc = self.proc.wait(timeout=timeout)
        self.stderr = self.proc.stderr.read()
        return rc

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass


class StackDumps:
    """Asks a bridge process for its threads' stacks (SIGUSR1, faulthandler)
    and reads them from its stderr pipe; ``text``: all stderr read so far."""

    # The outermost frame of a bridge run with -m: the end of a main-thread
    # stack, which faulthandler prints innermost first.
    OUTERMOST = " in _run_module_as_main\n"

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stderr.fileno()
        self.text = ""

    def read_until(self, needle, start=0, timeout=TIMEOUT):
        """Reads stderr until ``needle`` occurs at or after ``start``;
        returns the text from ``start``."""
        deadline = time.monotonic() + timeout
        while self.text.find(needle, start) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("no %r on stderr within %.0f s; got %r"
                                   % (needle, timeout, self.text[start:]))
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("stderr closed before %r; got %r" % (needle, self.text[start:]))
            self.text += chunk.decode("utf-8", "replace")
        return self.text[start:]

    def dump(self):
        """Sends SIGUSR1 and returns the stderr text up to the end of the
        main thread's stack."""
        start = len(self.text)
        self.proc.send_signal(signal.SIGUSR1)
        return self.read_until(self.OUTERMOST, start)

    def dump_until(self, needle, timeout=TIMEOUT):
        """Dumps again until a dump contains ``needle`` (the process reaches
        that point after something the test already saw); returns that dump."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.dump()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise TimeoutError("no dump with %r within %.0f s; last %r"
                                   % (needle, timeout, text))
