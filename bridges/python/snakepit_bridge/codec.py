"""Fast JSON encoding/decoding bound once.

Output is compact (``,`` and ``:`` separators) UTF-8 with non-ASCII text kept
as is, like nlohmann::json's ``dump()``. NaN and infinities are refused (they
are not JSON). Keys keep their insertion order.
"""

import json
import json.encoder
import json.scanner

_decoder = json.JSONDecoder()
_scan_once = _decoder.scan_once
_decode_slow = _decoder.decode

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)

_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode_basestring = getattr(json.encoder, "c_encode_basestring", None)

if _c_make_encoder is not None and _c_encode_basestring is not None:
    # The C encoder behind JSONEncoder.encode, created once instead of once
    # per call. ``_markers`` detects circular references; it is empty between
    # successful calls and is cleared after a failed one.
    _markers = {}
    _c_encoder = _c_make_encoder(
        _markers, _encoder.default, _c_encode_basestring, None,
        _encoder.key_separator, _encoder.item_separator,
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
else:  # pragma: no cover - CPython always has _json
    dumps = _encoder.encode


def dumps_bytes(obj):
    """obj -> compact JSON as UTF-8 bytes."""
    return dumps(obj).encode("utf-8")


def loads(data, _scan=_scan_once, _slow=_decode_slow):
    """UTF-8 JSON (bytes, bytearray or str) -> value. Raises ValueError.

    The fast path runs the C scanner directly; anything unusual (leading or
    trailing whitespace, invalid input) goes through JSONDecoder.decode, which
    gives the usual error messages.
    """
    text = data if isinstance(data, str) else str(data, "utf-8")
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _slow(text)
    if end != len(text):
        return _slow(text)
    return value
