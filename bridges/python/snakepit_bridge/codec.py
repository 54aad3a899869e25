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
"""

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has _json
    _json = None


def _decode_slow(text):
    """JSONDecoder().decode(text): the usual parse and error messages."""
    import json
    return json.JSONDecoder().decode(text)


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
else:  # pragma: no cover
    import json as _std_json
    _scan_once = _std_json.JSONDecoder().scan_once
    dumps = _std_json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                  allow_nan=False).encode


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
