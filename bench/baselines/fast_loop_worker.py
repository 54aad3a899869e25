#!/usr/bin/python3
"""The fastest stdlib-only native-protocol worker we know how to write: the
reference "fastest stdlib loop" the Python bridge is measured against
(docs/protocol.md, "Native protocol"; docs/performance.md).

    snakepit_pipe_floor --size 1 --requests 50000 -- /usr/bin/python3 \\
        bench/baselines/fast_loop_worker.py

Commands: ``ping`` -> {"status":"ok","pong":true}; ``echo`` -> its args (a
BINARY request's {"$bytes": ...} offsets still index the same attachments,
so those go back untouched, like bench/tiny_worker.cc). Also ``pong`` for
``ping`` frames, exit 0 on ``shutdown`` or end of input, exit 3 on a
malformed frame. No streaming, no calls, no sessions.

What makes it fast:
- ``os.read`` straight from the fd into a 64 KiB bytes object: one system
  call per small frame (the host sends one request at a time);
- a frame larger than that is finished with ``os.readv`` straight into a
  preallocated, reused bytearray (no zero-fill per frame, no joins) and
  handed on as a memoryview;
- JSON: the C scanner's ``scan_once`` and the C encoder, bound directly
  (no json.loads/json.dumps wrappers, no circular-reference markers);
- header and body in one ``os.write`` (``os.writev`` with attachments);
- every name bound to a local; no garbage-collector passes in the loop
  (gc.disable: the loop creates no reference cycles).
"""

import gc
import os
import struct
import sys

import _json

READ_SIZE = 1 << 16
HEADER_SIZE = 12
REQUEST, RESPONSE, END, PING, PONG, SHUTDOWN = 2, 3, 5, 9, 10, 11
FLAG_ERROR, FLAG_BINARY, FLAG_STREAM = 1, 2, 4


class _DecoderConfig:  # what _json.make_scanner reads from a JSONDecoder
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None  # NaN/Infinity: refused below (TypeError)


def _default(o):
    raise TypeError("not JSON serializable: %s" % type(o).__name__)


def _write_all(fd, parts):
    """writev all of ``parts``, resuming after partial writes."""
    n = os.writev(fd, parts)
    total = sum(len(p) for p in parts)
    while n < total:
        data = b"".join(parts)[n:]
        n += os.write(fd, data)


def serve(fd_in, fd_out, max_frame):
    header = struct.Struct(">IBBHQ")
    unpack = header.unpack_from
    pack = header.pack
    u32 = struct.Struct(">I")
    read = os.read
    readv = os.readv
    write = os.write
    scan = _json.make_scanner(_DecoderConfig())
    encode = _json.make_encoder(None, _default, _json.encode_basestring, None,
                                ":", ",", False, False, False)
    join = "".join
    ping_result = {"status": "ok", "pong": True}
    big = bytearray()  # reused for frames larger than one read

    write(fd_out, _hello(pack))
    data = b""
    while True:
        # --- get one whole frame: (kind, flags, id, payload) -------------
        if not data:
            data = read(fd_in, READ_SIZE)
            if not data:
                return 0
        size = len(data)
        if size < 16:
            more = read(fd_in, READ_SIZE)
            if not more:
                return 0
            data += more
            continue
        length, kind, flags, _, frame_id = unpack(data)
        if length < HEADER_SIZE or length > max_frame:
            return 3
        end = length + 4
        if end == size:  # the usual case: exactly one frame
            payload = data[16:]
            data = b""
        elif end < size:
            payload = data[16:end]
            data = data[end:]
        elif end - size <= READ_SIZE:  # a little more to come
            more = read(fd_in, READ_SIZE)
            if not more:
                return 0
            data += more
            continue
        else:  # a large frame: finish it in the reused buffer
            n = length - HEADER_SIZE
            if len(big) < n:
                big = bytearray(n)  # zero-filled once, then reused
            view = memoryview(big)
            have = size - 16
            view[:have] = memoryview(data)[16:]
            data = b""
            while have < n:
                got = readv(fd_in, [view[have:n]])
                if not got:
                    return 0
                have += got
            payload = view[:n]
        # --- handle it ----------------------------------------------------
        if kind == REQUEST:
            if flags:
                if flags & FLAG_STREAM:
                    body = b'{"code":"InvalidArgument","message":"no streaming here"}'
                    write(fd_out, pack(HEADER_SIZE + len(body), END, FLAG_ERROR, 0, frame_id)
                          + body)
                    continue
                (json_length,) = u32.unpack_from(payload)
                text = str(payload[4:4 + json_length], "utf-8")
                attachments = payload[4 + json_length:]
            else:
                text = str(payload, "utf-8")
            try:
                request, stop = scan(text, 0)
            except StopIteration:
                return 3
            if stop != len(text):
                return 3
            command = request.get("command") if request.__class__ is dict else None
            if command == "ping":
                body = join(encode(ping_result, 0)).encode()
                write(fd_out, pack(HEADER_SIZE + len(body), RESPONSE, 0, 0, frame_id) + body)
            elif command == "echo":
                body = join(encode(request.get("args", {}), 0)).encode()
                if flags & FLAG_BINARY:
                    total = HEADER_SIZE + 4 + len(body) + len(attachments)
                    _write_all(fd_out, [pack(total, RESPONSE, FLAG_BINARY, 0, frame_id)
                                        + u32.pack(len(body)) + body, attachments])
                else:
                    write(fd_out, pack(HEADER_SIZE + len(body), RESPONSE, 0, 0, frame_id)
                          + body)
            else:
                body = join(encode({"code": "InvalidArgument",
                                    "message": "unknown command %r" % (command,)}, 0)).encode()
                write(fd_out, pack(HEADER_SIZE + len(body), RESPONSE, FLAG_ERROR, 0, frame_id)
                      + body)
            payload = attachments = None  # let a large frame's view go
        elif kind == PING:
            write(fd_out, pack(HEADER_SIZE, PONG, 0, 0, frame_id))
        elif kind == SHUTDOWN:
            return 0
        # cancel: nothing runs between requests; other kinds: ignored


def _hello(pack):
    body = ('{"protocol":1,"pid":%d,"bridge":"python-fast-loop","bridge_version":"0.1.0",'
            '"adapter":"fast_loop_worker","commands":["ping","echo"]}' % os.getpid()).encode()
    return pack(HEADER_SIZE + len(body), 1, 0, 0, 0) + body


def main():
    env = os.environ
    fd_in = int(env.get("SNAKEPIT_FD_IN", "3"))
    fd_out = int(env.get("SNAKEPIT_FD_OUT", "4"))
    max_frame = int(env.get("SNAKEPIT_MAX_FRAME", str(64 << 20)))
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return serve(fd_in, fd_out, max_frame)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
