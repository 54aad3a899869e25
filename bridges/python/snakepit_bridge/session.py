"""``ctx.session``: the request's session data, kept by the host.

Every operation is one call to the host (docs/protocol.md, "Calls to the
host"): ``session.read``, ``session.update`` or ``session.info``. Nothing is
cached in the worker: two reads may see different data when other requests
of the session update it in between; ``update(..., if_version=v)`` makes a
read-modify-write safe.

Errors: ``FailedPrecondition`` (reason ``no_session``) when the request has
no session, raised locally without a call (reason ``no_calls`` where the
protocol has no calls: snakepit-v0, a Context made by hand);
``InvalidArgument``, also without a call, for a key to set that is not a
string (JSON would turn it into one) or ``set``/``delete`` of the wrong
type; the host's errors as ``HostCallError`` (``InvalidArgument`` for a bad
key, ``FailedPrecondition``/``version_mismatch``, ``ResourceExhausted``/
``session_full``).
"""

from .errors import FailedPrecondition, InvalidArgument, SnakepitError


class Session:
    """The session of one request (``ctx.session``); a thin handle over
    ``ctx.call``. Not thread-safe: use it from the command's thread."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx):
        self._ctx = ctx

    @property
    def id(self):
        """The session id, or None when the request has no session."""
        return self._ctx.session_id

    def get(self, key, default=None):
        """The value stored under ``key``, or ``default`` if there is none."""
        _check_key(key)
        values = self._values(self._call("session.read", {"keys": [key]}))
        return values[key] if key in values else default

    def read(self, *keys):
        """(dict of the present ``keys`` and their values, version); with no
        keys every key."""
        for key in keys:
            _check_key(key)
        result = self._call("session.read", {"keys": list(keys)} if keys else {})
        return self._values(result), self._version(result, "session.read")

    def items(self):
        """Every key and value, as a dict."""
        return self._values(self._call("session.read", {}))

    to_dict = items

    def set(self, key, value):
        """Store ``value`` (JSON) under ``key``; returns the new version."""
        _check_key(key)
        return self._version(self._call("session.update", {"set": {key: value}}))

    def delete(self, key):
        """Remove ``key`` (no error if absent); returns the new version."""
        _check_key(key)
        return self._version(self._call("session.update", {"delete": [key]}))

    def update(self, set=None, delete=None, if_version=None):
        """Set the keys of ``set`` (a dict) and remove those of ``delete``
        (a list), all or nothing; returns the new version.

        With ``if_version`` the update happens only if the session's version
        still is that one; otherwise HostCallError with code
        ``FailedPrecondition`` and reason ``version_mismatch``.
        """
        args = {}
        if set is not None:
            if not isinstance(set, dict):
                raise InvalidArgument("set must be a dict, not %s" % type(set).__name__,
                                      type="TypeError")
            for key in set:
                _check_key(key)
            args["set"] = set
        if delete is not None:
            if isinstance(delete, (str, bytes, dict)):
                raise InvalidArgument("delete must be a list of keys, not %s"
                                      % type(delete).__name__, type="TypeError")
            args["delete"] = list(delete)
        if if_version is not None:
            args["if_version"] = if_version
        return self._version(self._call("session.update", args))

    def info(self):
        """The ``session.info`` result: id, created, last_accessed, ttl_s,
        worker_id, metadata, keys, bytes, version."""
        result = self._call("session.info", {})
        if type(result) is not dict:
            raise _bad_reply("session.info", result)
        return result

    def _call(self, function, args):
        ctx = self._ctx
        call_host = ctx.bridge.call_host
        if call_host is None:
            raise FailedPrecondition(
                "this worker cannot call the host (protocol %s), so it has no session data"
                % ctx.bridge.protocol, details={"reason": "no_calls"})
        if ctx.session_id is None:
            raise FailedPrecondition(
                "this request has no session (use execute_in_session)",
                details={"reason": "no_session"})
        return call_host(ctx, function, args)

    @staticmethod
    def _values(result):
        values = result.get("values") if type(result) is dict else None
        if type(values) is not dict:
            raise _bad_reply("session.read", result)
        return values

    @staticmethod
    def _version(result, function="session.update"):
        version = result.get("version") if type(result) is dict else None
        if type(version) is not int:
            raise _bad_reply(function, result)
        return version

    def __repr__(self):
        return "Session(%r)" % (self._ctx.session_id,)


def _check_key(key):
    # Checked here so the caller's mistake is named as theirs (and JSON would
    # turn a non-string dict key into a string silently).
    if type(key) is not str:
        raise InvalidArgument("session keys are strings, not %s" % type(key).__name__,
                              type="TypeError")


def _bad_reply(function, result):
    text = repr(result)
    if len(text) > 200:
        text = text[:200] + "..."
    return SnakepitError("malformed reply from the host to %s: %s" % (function, text),
                         details={"reason": "bad_reply"})
