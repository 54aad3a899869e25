"""Native protocol framing (docs/protocol.md, "Framing").

frame = length:u32be  kind:u8  flags:u8  reserved:u16  id:u64be  payload
``length`` counts header + payload (>= 12).

Flags: ERROR, BINARY (payload = json_length:u32be, JSON, attachments; see
codec.loads_binary and SplitPayload) and STREAM. A frame with both ERROR and BINARY, or with
an unknown flag bit, is a protocol error (VALID_FLAGS lists the accepted
flag bytes).
"""

import io
import os
import select
import struct

# Kinds.
HELLO = 1
REQUEST = 2
RESPONSE = 3
CHUNK = 4
END = 5
CALL = 6
REPLY = 7
CANCEL = 8
PING = 9
PONG = 10
SHUTDOWN = 11

KIND_NAMES = {
    HELLO: "hello", REQUEST: "request", RESPONSE: "response", CHUNK: "chunk",
    END: "end", CALL: "call", REPLY: "reply", CANCEL: "cancel", PING: "ping",
    PONG: "pong", SHUTDOWN: "shutdown",
}
# What a worker may receive (the runtime checks that a ``reply`` answers the
# call it waits for).
HOST_TO_WORKER = frozenset((REQUEST, REPLY, CANCEL, PING, SHUTDOWN))

# Flags.
FLAG_ERROR = 0x01
FLAG_BINARY = 0x02
FLAG_STREAM = 0x04
KNOWN_FLAGS = FLAG_ERROR | FLAG_BINARY | FLAG_STREAM
# The flag bytes a frame may carry: known bits, not ERROR and BINARY at once.
VALID_FLAGS = frozenset(f for f in range(256)
                        if not f & ~KNOWN_FLAGS
                        and f & (FLAG_ERROR | FLAG_BINARY) != FLAG_ERROR | FLAG_BINARY)

HEADER = struct.Struct(">IBBHQ")  # length, kind, flags, reserved, id
HEADER_SIZE = 12                 # counted in length: kind..id
PREFIX_SIZE = HEADER.size        # 16: length field + header
DEFAULT_MAX_FRAME = 64 * 1024 * 1024

_READ_SIZE = 1 << 16


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame."""


class SplitPayload:
    """The payload of a large BINARY frame as FrameReader reads it: ``head``
    (json_length and the JSON, bytes) and ``tail`` (the attachments, one
    bytes object filled straight from the pipe). codec.loads_binary hands
    ``tail`` itself to a byte string that spans all of it, so a large byte
    string reaches the command without a copy. ``bytes(payload)`` joins
    them."""

    __slots__ = ("head", "tail")

    def __init__(self, head, tail):
        self.head = head
        self.tail = tail

    def __len__(self):
        return len(self.head) + len(self.tail)

    def __bytes__(self):
        return self.head + self.tail

    def __repr__(self):
        return "SplitPayload(<%d + %d bytes>)" % (len(self.head), len(self.tail))


def _bytes_filler():
    """A function n -> (bytes object of n bytes, writable memoryview of its
    contents), or None where that is not possible.

    CPython's PyBytes_FromStringAndSize(NULL, n) returns a bytes object whose
    contents are not initialised (no zero-fill), meant to be filled by its
    creator before anyone else sees it; the view (PyMemoryView_FromMemory
    on the object's ob_sval) lets readinto fill it. The caller must drop
    the view before handing the object on, and must not let the view
    outlive it. Checked once on a small object; None (callers then use a
    bytearray and a copy) on other interpreters or without ctypes.
    """
    import sys
    if sys.implementation.name != "cpython":
        return None
    try:
        import ctypes
        api = ctypes.pythonapi
        # Private function objects: setting argtypes on api's own would
        # change them for every user of ctypes.pythonapi in the process.
        new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_char_p, ctypes.c_ssize_t)(
            ("PyBytes_FromStringAndSize", api))
        view_of = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t,
                                    ctypes.c_int)(("PyMemoryView_FromMemory", api))
        offset = bytes.__basicsize__ - 1  # offsetof(PyBytesObject, ob_sval)
        writable = 0x200  # PyBUF_WRITE

        def fill(n):
            obj = new(None, n)
            return obj, view_of(id(obj) + offset, n, writable)

        obj, view = fill(64)
        view[:] = bytes(range(64))
        del view
        if obj != bytes(range(64)) or hash(obj) != hash(bytes(range(64))):
            return None
        return fill
    except Exception:
        return None


# _bytes_filler(), made when a large frame first needs it (importing ctypes
# takes milliseconds).
_FILL_UNKNOWN = object()
_fill = _FILL_UNKNOWN


def new_bytes(n):
    """(obj, view): a new object of ``n`` bytes to be filled through the
    writable memoryview ``view`` (drop it before handing ``obj`` on): an
    uninitialised bytes object where possible, else a bytearray."""
    global _fill
    fill = _fill
    if fill is _FILL_UNKNOWN:
        fill = _fill = _bytes_filler()
    if fill is None or n < 2:  # (0- and 1-byte objects may be shared)
        obj = bytearray(n)
        return obj, memoryview(obj)
    return fill(n)


def encode_frame(kind, flags, frame_id, payload=b""):
    """One frame as bytes (header + payload)."""
    return HEADER.pack(HEADER_SIZE + len(payload), kind, flags, 0, frame_id) + payload


def decode_frame(data, max_frame=DEFAULT_MAX_FRAME, kinds=None):
    """Parse exactly one whole frame -> (kind, flags, id, payload bytes)."""
    if len(data) < 4:
        raise ProtocolError("truncated frame: %d bytes" % len(data))
    (length,) = struct.unpack_from(">I", data)
    _check_length(length, max_frame)
    if len(data) != 4 + length:
        raise ProtocolError("frame length %d does not match %d bytes of data"
                            % (length, len(data) - 4))
    _, kind, flags, _, frame_id = HEADER.unpack_from(data)
    _check_kind_flags(kind, flags, kinds)
    return kind, flags, frame_id, bytes(data[PREFIX_SIZE:])


def _check_length(length, max_frame):
    if length < HEADER_SIZE:
        raise ProtocolError("frame length %d is below the header size %d"
                            % (length, HEADER_SIZE))
    if length > max_frame:
        raise ProtocolError("frame length %d exceeds the maximum %d"
                            % (length, max_frame))


def _check_kind_flags(kind, flags, kinds):
    if kind not in KIND_NAMES or (kinds is not None and kind not in kinds):
        raise ProtocolError("unexpected frame kind %d (%s)"
                            % (kind, KIND_NAMES.get(kind, "unknown")))
    if flags & ~KNOWN_FLAGS:
        raise ProtocolError("unknown flag bits 0x%02x on %s frame"
                            % (flags & ~KNOWN_FLAGS, KIND_NAMES[kind]))
    if flags not in VALID_FLAGS:
        raise ProtocolError("%s frame with both ERROR and BINARY" % KIND_NAMES[kind])


def write_all(fd, data, _write=os.write):
    """Write all of ``data`` to ``fd`` (one write() in the common case)."""
    n = _write(fd, data)
    size = len(data)
    if n < size:
        view = memoryview(data)
        while n < size:
            n += _write(fd, view[n:])


def _iov_max():
    try:
        value = os.sysconf("SC_IOV_MAX")
    except (AttributeError, OSError, ValueError):
        value = -1
    return value if value > 0 else 16


_IOV_MAX = _iov_max()


def writev_all(fd, buffers, _writev=os.writev):
    """Write all of ``buffers`` (bytes-like objects, in order) to ``fd`` with
    os.writev, as few calls as possible, resuming after partial writes."""
    buffers = list(buffers)
    i = 0
    count = len(buffers)
    while i < count:
        batch = buffers[i:i + _IOV_MAX]
        n = _writev(fd, batch)
        for buf in batch:
            size = len(buf)  # (memoryviews are cast to bytes: len = nbytes)
            if n >= size:
                n -= size
                i += 1
                continue
            # Partially written: what is left of this buffer comes next.
            buffers[i] = memoryview(buf)[n:]
            break


class FrameReader:
    """Reads frames from a pipe.

    Small frames: one ``os.read(fd, 64 KiB)`` fills a buffer from which as
    many frames as are complete are parsed. A large frame is finished with
    ``readinto`` straight into the object handed on (_read_large): a bytes
    object that is neither zero-filled first nor copied afterwards
    (new_bytes), or for a BINARY frame a SplitPayload whose attachments are
    such an object.
    """

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME, kinds=HOST_TO_WORKER):
        """``kinds``: the frame kinds accepted (None: every known kind)."""
        self.fd = fd
        self.max_frame = max_frame
        self.kinds = frozenset(KIND_NAMES) if kinds is None else kinds
        self.eof = False
        self._buf = bytearray()
        self._pos = 0
        self._file = io.FileIO(fd, "rb", closefd=False)

    def read_frame(self, _read=os.read, _unpack=HEADER.unpack_from):
        """The next frame (kind, flags, id, payload bytes/bytearray), or None
        at end of input.

        Raises ProtocolError on a malformed frame. End of input in the middle
        of a frame counts as end of input.
        """
        buf = self._buf
        if not buf and not self.eof:
            # Fast path: nothing buffered and the read returns exactly one
            # frame (the host sends one request at a time).
            data = _read(self.fd, _READ_SIZE)
            size = len(data)
            if size >= PREFIX_SIZE:
                length, kind, flags, _, frame_id = _unpack(data)
                if (length <= self.max_frame and kind in self.kinds
                        and flags in VALID_FLAGS):
                    if length + 4 == size:
                        return kind, flags, frame_id, data[PREFIX_SIZE:]
                    if length + 4 - size > _READ_SIZE:  # the start of a large frame
                        payload = self._read_large(data, 0, length, flags)
                        if payload is None:
                            return None
                        return kind, flags, frame_id, payload
            elif not size:
                self.eof = True
                return None
            buf += data
        pos = self._pos
        while True:
            avail = len(buf) - pos
            if avail >= PREFIX_SIZE:
                length, kind, flags, _, frame_id = _unpack(buf, pos)
                if length < HEADER_SIZE or length > self.max_frame:
                    _check_length(length, self.max_frame)
                if kind not in self.kinds or flags not in VALID_FLAGS:
                    _check_kind_flags(kind, flags, self.kinds)
                end = pos + 4 + length
                if end <= len(buf):
                    payload = buf[pos + PREFIX_SIZE:end]
                    if end == len(buf):
                        buf.clear()
                        self._pos = 0
                    else:
                        self._pos = end
                    return kind, flags, frame_id, payload
                if end - len(buf) > _READ_SIZE:
                    payload = self._read_large(buf, pos, length, flags)
                    if payload is None:
                        return None
                    return kind, flags, frame_id, payload
            elif avail >= 4:
                (length,) = struct.unpack_from(">I", buf, pos)
                _check_length(length, self.max_frame)
            if pos:
                del buf[:pos]
                pos = self._pos = 0
            if self.eof:
                return None
            data = _read(self.fd, _READ_SIZE)
            if not data:
                self.eof = True
                return None
            buf += data

    def _read_large(self, buf, pos, length, flags):
        """Finish a frame that starts at ``pos`` in ``buf`` (the buffer, or
        what the last read returned) and extends well beyond it: the rest
        is read straight into its final object (new_bytes: no zero-fill, no
        copy but of what was already read). A BINARY payload whose JSON was
        read becomes a SplitPayload, its attachments one object."""
        start = pos + PREFIX_SIZE
        size = length - HEADER_SIZE
        have = len(buf) - start
        split = 0
        if flags & FLAG_BINARY and have >= 4:
            split = 4 + struct.unpack_from(">I", buf, start)[0]
            if split > have or split > size:
                split = 0  # loads_binary reports a bad json_length
        head = bytes(buf[start:start + split]) if split else None
        obj, view = new_bytes(size - split)
        have -= split
        with memoryview(buf) as buffered:
            view[:have] = buffered[start + split:]
        if buf is self._buf:
            buf.clear()
            self._pos = 0
        left = len(view)
        readinto = self._file.readinto
        while have < left:
            n = readinto(view[have:])
            if not n:
                self.eof = True
                return None
            have += n
        del view
        return obj if head is None else SplitPayload(head, obj)

    def poll(self):
        """Read what is available now without blocking (False at EOF)."""
        if self.eof:
            return False
        if not select.select([self.fd], [], [], 0)[0]:
            return True
        data = os.read(self.fd, _READ_SIZE)
        if not data:
            self.eof = True
            return False
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data
        return True

    def buffered_frames(self):
        """(kind, id) of the complete, well-formed frames already buffered,
        without consuming them."""
        buf = self._buf
        pos = self._pos
        found = []
        while len(buf) - pos >= PREFIX_SIZE:
            length, kind, flags, _, frame_id = HEADER.unpack_from(buf, pos)
            if (length < HEADER_SIZE or length > self.max_frame
                    or kind not in self.kinds or flags not in VALID_FLAGS):
                break  # read_frame will report it
            end = pos + 4 + length
            if end > len(buf):
                break
            found.append((kind, frame_id))
            pos = end
        return found
