"""Exceptions a command may raise, and the protocol's error objects.

A command signals a failure with a specific code by raising one of the
``SnakepitError`` subclasses below; any other exception becomes ``Internal``.
The error object sent to the host is ``{"code", "type", "message",
"traceback", "details"}`` (see docs/protocol.md, "Error object"); ``details``
only when the exception carries some.

``HostCallError`` is raised by ``ctx.call`` (and so by ``ctx.session``) when
the host answers a call with an error; a command that lets it escape fails
with the host's code and details. The exception raised is also an instance
of the class of its code (``host_call_error_class``): a NotFound reply
raises an exception that is both a HostCallError and a NotFound, so either
``except HostCallError`` or ``except NotFound`` catches it.
"""

from .codec import dumps

CODES = frozenset((
    "InvalidArgument", "NotFound", "DeadlineExceeded", "ResourceExhausted",
    "Unavailable", "Cancelled", "FailedPrecondition", "Internal",
))

# Bounds on the text we put in an error object, so that an exception with an
# enormous message can never produce a frame above the maximum frame size.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_TRACEBACK_CHARS = 256 * 1024
MAX_DETAILS_BYTES = 256 * 1024


class SnakepitError(Exception):
    """Base class of the errors a command raises on purpose.

    ``code`` is the protocol's error code (a class attribute, overridable per
    instance with ``code=``). ``type=`` overrides the ``type`` field of the
    error object, which otherwise is the exception's class name; e.g.
    ``InvalidArgument("division by zero", type="ZeroDivisionError")``.
    ``details=`` (a dict of JSON values) becomes the error object's
    ``details``, e.g. ``{"reason": "no_session"}``; ``.details`` is {} when
    none were given.
    """

    code = "Internal"

    def __init__(self, message="", *, code=None, type=None, details=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.error_type = type
        self.details = {} if details is None else details

    @property
    def reason(self):
        """``details["reason"]``, or None."""
        details = self.details
        return details.get("reason") if isinstance(details, dict) else None

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class InvalidArgument(SnakepitError):
    code = "InvalidArgument"


class NotFound(SnakepitError):
    code = "NotFound"


class FailedPrecondition(SnakepitError):
    code = "FailedPrecondition"


class Unavailable(SnakepitError):
    code = "Unavailable"


class ResourceExhausted(SnakepitError):
    code = "ResourceExhausted"


class Cancelled(SnakepitError):
    code = "Cancelled"


class DeadlineExceeded(SnakepitError):
    code = "DeadlineExceeded"


class HostCallError(SnakepitError):
    """The host answered a call (``ctx.call``, ``ctx.session``) with an error.

    ``code``, ``details`` and the message are the error reply's; ``function``
    is the function called. E.g. ``code == "FailedPrecondition"`` and
    ``reason == "version_mismatch"`` after an update with a stale
    ``if_version``; ``ResourceExhausted`` / ``session_full``.
    """

    def __init__(self, message="", *, code=None, type=None, details=None,
                 function=None):
        super().__init__(message, code=code, type=type, details=details)
        self.function = function


# code -> the class of that code (Internal has none: plain HostCallError).
CODE_CLASSES = {cls.code: cls for cls in (
    InvalidArgument, NotFound, FailedPrecondition, Unavailable,
    ResourceExhausted, Cancelled, DeadlineExceeded)}


def _host_call_error_classes():
    classes = {}
    for code, base in CODE_CLASSES.items():
        # __name__ stays "HostCallError": it is the error object's ``type``
        # when the command lets the exception escape; __qualname__ shows the
        # code in tracebacks (snakepit_bridge.errors.HostCallError[NotFound]).
        cls = type("HostCallError", (HostCallError, base), {
            "__doc__": "A HostCallError with code %s (also a %s)." % (code, base.__name__),
            "__qualname__": "HostCallError[%s]" % code,
            "__module__": __name__,
            "code": code,
        })
        classes[code] = cls
    return classes


_HOST_CALL_ERRORS = _host_call_error_classes()


def host_call_error_class(code):
    """The exception class ``ctx.call`` raises for an error reply with
    ``code``: a subclass of both HostCallError and the code's class
    (InvalidArgument, NotFound, ...); HostCallError itself for Internal or
    an unknown code."""
    return _HOST_CALL_ERRORS.get(code, HostCallError)


def _clip(text, limit):
    if len(text) <= limit:
        return text
    return text[:limit] + "... [%d more characters]" % (len(text) - limit)


def make_error(code, type_name, message, traceback=None, details=None):
    """An error object; ``traceback`` is omitted when None, ``details`` when
    empty."""
    err = {"code": code, "type": type_name,
           "message": _clip(message, MAX_MESSAGE_CHARS)}
    if traceback is not None:
        err["traceback"] = _clip(traceback, MAX_TRACEBACK_CHARS)
    if details:
        err["details"] = details
    return err


def _checked_details(details):
    """``details`` if it is a JSON object of bounded size, else a note
    saying why it was dropped (the error object must always encode)."""
    if not isinstance(details, dict):
        return {"invalid_details": "details must be a dict, not %s"
                                   % type(details).__name__}
    try:
        size = len(dumps(details).encode("utf-8", "replace"))
    except Exception as exc:
        return {"invalid_details": _clip("details are not JSON-serializable: %s: %s"
                                         % (type(exc).__name__, exc), MAX_MESSAGE_CHARS)}
    if size > MAX_DETAILS_BYTES:
        return {"invalid_details": "details are %d bytes of JSON, above %d"
                                   % (size, MAX_DETAILS_BYTES)}
    return details


def error_from_exception(exc, traceback_text, message_prefix=""):
    """The error object for ``exc`` (raised by a command)."""
    details = None
    if isinstance(exc, SnakepitError):
        code = exc.code if exc.code in CODES else "Internal"
        type_name = exc.error_type or type(exc).__name__
        details = getattr(exc, "details", None)  # (a subclass may skip __init__)
        if details:
            details = _checked_details(details)
    else:
        code = "Internal"
        type_name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not take the bridge down
        message = "<unprintable %s>" % type(exc).__name__
    return make_error(code, type_name, message_prefix + message, traceback_text, details)
