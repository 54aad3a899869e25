"""Fast JSON encoding/decoding bound once.

Output is compact (``,`` and ``:`` separators) UTF-8 with non-ASCII text kept
as is, like nlohmann::json's ``dump()``. NaN and infinities are refused (they
are not JSON). Keys keep their insertion order.

The C scanner and encoder of ``_json`` are bound directly, configured exactly
as ``json.JSONDecoder()`` and ``json.JSONEncoder(separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` configure them. Importing ``json``
itself costs several milliseconds (it compiles regular expressions), so it is
imported only on rare paths: input ``loads`` cannot take in one C scan
(surrounding whitespace, invalid JSON), an interpreter without ``_json``.

``fast_encoder`` is dumps_result's C encoder without circular-reference
markers, for the runtime's hot path (which falls back to dumps_result when
it raises, so errors read as before).

Byte strings (docs/protocol.md, "Binary payloads") cost nothing where there
are none. ``dumps_result`` is ``dumps`` through a second C encoder whose
``default`` hook (called only for objects JSON cannot encode) raises
HasBytes on the first bytes/bytearray/memoryview; only then does
``dumps_with_bytes`` encode again with an encoder made for that one value,
whose hook turns each byte string into a ``{"$bytes": [offset, length]}``
placeholder and collects it (not copied) as an attachment. ``loads_binary``
decodes the payload of a frame with the BINARY flag with a scanner made for
that frame, whose ``object_hook`` replaces the placeholders by ``bytes``;
frames without the flag go through the plain ``loads``.
"""

import struct

from .framing import SplitPayload

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has _json
    _json = None


_BYTES_TYPES = (bytes, bytearray, memoryview)
PLACEHOLDER_KEY = "$bytes"
JSON_LENGTH = struct.Struct(">I")  # a BINARY payload's json_length


class HasBytes(Exception):
    """Raised by dumps_result: the value holds a byte string."""


class BinaryPayloadError(ValueError):
    """A BINARY payload that is malformed (a protocol error)."""


def _probe_default(o):
    """The ``default`` of dumps_result's encoder."""
    if isinstance(o, _BYTES_TYPES):
        raise HasBytes()
    raise TypeError(f"Object of type {o.__class__.__name__} "
                    f"is not JSON serializable")


def _decode_slow(text, object_hook=None):
    """JSONDecoder().decode(text): the usual parse and error messages."""
    import json
    return json.JSONDecoder(object_hook=object_hook).decode(text)


if _json is not None:
    class _DecoderConfig:
        """The attributes _json.make_scanner reads from a JSONDecoder."""
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                          "NaN": float("nan")}.__getitem__

    _scan_once = _json.make_scanner(_DecoderConfig())

    def _default(o):
        # json.JSONEncoder.default.
        raise TypeError(f"Object of type {o.__class__.__name__} "
                        f"is not JSON serializable")

    # The C encoder behind JSONEncoder.encode, created once instead of once
    # per call. ``_markers`` detects circular references; it is empty between
    # successful calls and is cleared after a failed one.
    _markers = {}
    _c_encoder = _json.make_encoder(
        _markers, _default, _json.encode_basestring, None,
        ":", ",",  # key and item separators
        False,  # sort_keys
        False,  # skipkeys
        False)  # allow_nan

    def dumps(obj, _enc=_c_encoder, _join="".join):
        """obj -> compact JSON str. Raises TypeError/ValueError if impossible."""
        try:
            return _join(_enc(obj, 0))
        except BaseException:
            _markers.clear()
            raise

    _probe_markers = {}
    _c_probe = _json.make_encoder(
        _probe_markers, _probe_default, _json.encode_basestring, None,
        ":", ",", False, False, False)

    def dumps_result(obj, _enc=_c_probe, _join="".join):
        """dumps(obj), except that a byte string in ``obj`` raises HasBytes
        (then use dumps_with_bytes)."""
        try:
            return _join(_enc(obj, 0))
        except BaseException:
            _probe_markers.clear()
            raise

    # The hot path's encoder (runtime.NativeBridge): dumps_result without
    # the circular-reference markers (a dict insertion and removal per
    # container). A cycle then ends in RecursionError instead of ValueError;
    # callers fall back to dumps_result on any exception, which reports
    # errors exactly as before.
    fast_encoder = _json.make_encoder(
        None, _probe_default, _json.encode_basestring, None,
        ":", ",", False, False, False)

    def _make_encoder(default):
        return _json.make_encoder({}, default, _json.encode_basestring, None,
                                  ":", ",", False, False, False)

    def _make_scanner(object_hook):
        config = _DecoderConfig()
        config.object_hook = object_hook
        return _json.make_scanner(config)
else:  # pragma: no cover
    import json as _std_json
    _scan_once = _std_json.JSONDecoder().scan_once
    dumps = _std_json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                  allow_nan=False).encode

    def dumps_result(obj):
        return _std_json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                     allow_nan=False, default=_probe_default).encode(obj)

    def fast_encoder(obj, _level):
        return [dumps_result(obj)]

    def _make_encoder(default):
        encoder = _std_json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                        allow_nan=False, default=default)
        return lambda obj, _level: [encoder.encode(obj)]

    def _make_scanner(object_hook):
        return _std_json.JSONDecoder(object_hook=object_hook).scan_once


def dumps_bytes(obj):
    """obj -> compact JSON as UTF-8 bytes."""
    return dumps(obj).encode("utf-8")


def loads(data, _scan=_scan_once):
    """UTF-8 JSON (bytes, bytearray or str) -> value. Raises ValueError.

    The fast path runs the C scanner directly; anything unusual (leading or
    trailing whitespace, invalid input) goes through JSONDecoder.decode, which
    gives the usual error messages.
    """
    text = data if isinstance(data, str) else str(data, "utf-8")
    try:
        value, end = _scan(text, 0)
    except (StopIteration, SystemError):
        # SystemError: CPython 3.11's C scanner can raise its
        # json.decoder.JSONDecodeError only once json.decoder is imported.
        # The slow path imports it and reports the real error.
        return _decode_slow(text)
    if end != len(text):
        return _decode_slow(text)
    return value


def dumps_with_bytes(obj):
    """obj -> (compact JSON str, attachments, their total size): each
    bytes/bytearray/memoryview in ``obj`` becomes ``{"$bytes": [offset,
    length]}`` in the JSON and is listed (not copied) in attachments, a list
    of objects ``os.writev`` takes. Raises TypeError/ValueError like dumps,
    and ValueError if ``obj`` holds an object whose only key is "$bytes"
    (the receiver would take it for a byte string)."""
    attachments = []
    offset = 0

    def default(o):
        nonlocal offset
        if isinstance(o, _BYTES_TYPES):
            if type(o) is memoryview:
                o = o.cast("B") if o.c_contiguous else o.tobytes()
            size = len(o)
            attachments.append(o)
            placeholder = {PLACEHOLDER_KEY: [offset, size]}
            offset += size
            return placeholder
        raise TypeError(f"Object of type {o.__class__.__name__} "
                        f"is not JSON serializable")

    text = "".join(_make_encoder(default)(obj, 0))
    # '{"$bytes":' can only be the start of an object whose first key is
    # "$bytes": one per placeholder unless the value has such objects too.
    if text.count('{"$bytes":') != len(attachments) and _has_placeholder_object(obj):
        raise ValueError('an object whose only key is "$bytes" cannot be sent '
                         "in a value that holds byte strings")
    return text, attachments, offset


def _has_placeholder_object(value):
    stack = [value]
    pop = stack.pop
    push = stack.extend
    while stack:
        value = pop()
        if isinstance(value, dict):
            if len(value) == 1 and PLACEHOLDER_KEY in value:
                return True
            push(value.values())
        elif isinstance(value, (list, tuple)):
            push(value)
    return False


def loads_binary(payload, _unpack=JSON_LENGTH.unpack_from):
    """The payload of a frame with the BINARY flag (json_length:u32be, JSON,
    attachments; bytes, bytearray, memoryview or framing.SplitPayload) ->
    the value, with a ``bytes`` for each ``{"$bytes": [offset, length]}``
    object (a SplitPayload's attachments themselves when one spans them
    all: no copy).

    Raises BinaryPayloadError when the layout or a placeholder is bad,
    ValueError when the JSON is invalid.
    """
    whole = None
    if type(payload) is SplitPayload:
        # framing.FrameReader split it: head = json_length + JSON (checked
        # there), tail = the attachments, handed on as they are to a byte
        # string spanning all of them.
        text = str(memoryview(payload.head)[4:], "utf-8")
        whole = payload.tail  # bytes (a bytearray where new_bytes cannot)
        attachments = memoryview(whole)
    else:
        size = len(payload)
        if size < 4:
            raise BinaryPayloadError("binary payload of %d bytes has no JSON length" % size)
        (json_length,) = _unpack(payload)
        if json_length > size - 4:
            raise BinaryPayloadError("binary payload announces %d bytes of JSON but holds %d"
                                     % (json_length, size - 4))
        view = memoryview(payload)
        text = str(view[4:4 + json_length], "utf-8")
        attachments = view[4 + json_length:]
    available = len(attachments)

    def hook(obj):
        if len(obj) == 1 and PLACEHOLDER_KEY in obj:
            span = obj[PLACEHOLDER_KEY]
            if (type(span) is not list or len(span) != 2
                    or type(span[0]) is not int or type(span[1]) is not int
                    or span[0] < 0 or span[1] < 0):
                raise BinaryPayloadError(
                    'a {"$bytes": ...} placeholder must hold [offset, length], '
                    "two non-negative integers, not %s" % _short(span))
            start, length = span
            if start + length > available:
                raise BinaryPayloadError(
                    "byte string [%d, +%d] lies outside the %d attachment bytes"
                    % (start, length, available))
            if length == available and whole.__class__ is bytes:
                return whole  # (start is 0)
            return bytes(attachments[start:start + length])
        return obj

    try:
        value, end = _make_scanner(hook)(text, 0)
    except (StopIteration, SystemError):
        return _decode_slow(text, hook)
    if end != len(text):
        return _decode_slow(text, hook)
    return value


def _short(value):
    text = dumps(value) if not isinstance(value, _BYTES_TYPES) else repr(value)
    return text if len(text) <= 80 else text[:80] + "..."
