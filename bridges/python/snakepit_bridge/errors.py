"""Exceptions a command may raise, and the protocol's error objects.

A command signals a failure with a specific code by raising one of the
``SnakepitError`` subclasses below; any other exception becomes ``Internal``.
The error object sent to the host is ``{"code", "type", "message",
"traceback"}`` (see docs/protocol.md, "Error object").
"""

CODES = frozenset((
    "InvalidArgument", "NotFound", "DeadlineExceeded", "ResourceExhausted",
    "Unavailable", "Cancelled", "FailedPrecondition", "Internal",
))

# Bounds on the text we put in an error object, so that an exception with an
# enormous message can never produce a frame above the maximum frame size.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_TRACEBACK_CHARS = 256 * 1024


class SnakepitError(Exception):
    """Base class of the errors a command raises on purpose.

    ``code`` is the protocol's error code (a class attribute, overridable per
    instance with ``code=``). ``type=`` overrides the ``type`` field of the
    error object, which otherwise is the exception's class name; e.g.
    ``InvalidArgument("division by zero", type="ZeroDivisionError")``.
    """

    code = "Internal"

    def __init__(self, message="", *, code=None, type=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.error_type = type

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


def _clip(text, limit):
    if len(text) <= limit:
        return text
    return text[:limit] + "... [%d more characters]" % (len(text) - limit)


def make_error(code, type_name, message, traceback=None):
    """An error object; ``traceback`` is omitted when None."""
    err = {"code": code, "type": type_name,
           "message": _clip(message, MAX_MESSAGE_CHARS)}
    if traceback is not None:
        err["traceback"] = _clip(traceback, MAX_TRACEBACK_CHARS)
    return err


def error_from_exception(exc, traceback_text, message_prefix=""):
    """The error object for ``exc`` (raised by a command)."""
    if isinstance(exc, SnakepitError):
        code = exc.code if exc.code in CODES else "Internal"
        type_name = exc.error_type or type(exc).__name__
    else:
        code = "Internal"
        type_name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not take the bridge down
        message = "<unprintable %s>" % type(exc).__name__
    return make_error(code, type_name, message_prefix + message, traceback_text)
