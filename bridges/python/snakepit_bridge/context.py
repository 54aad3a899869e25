"""The per-request Context handed to commands, and the bridge's shared state."""

import os
import time

from .errors import FailedPrecondition
from .session import Session

_monotonic = time.monotonic


class BridgeState:
    """State of the running bridge, reachable from commands as ``ctx.bridge``.

    ``requests``: requests completed so far. ``started_at``: time.monotonic()
    at start. ``ignore_shutdown`` (test hook): when set, ``shutdown`` and end of
    input no longer end the process; it sleeps until killed.
    ``exit_after_response`` (test hook): an exit code; the bridge calls
    ``os._exit(code)`` right after writing the current response.
    ``hang_after_response`` (test hook): when set, the bridge stops reading
    its input right after writing the current response and sleeps in the main
    thread until killed: it answers no ``ping``, ``shutdown`` or request and
    never notices end of input (signals still act as usual).
    """

    def __init__(self, adapter=None, worker_id=None, protocol="native"):
        self.adapter = adapter
        self.worker_id = (os.environ.get("SNAKEPIT_WORKER_ID", "")
                          if worker_id is None else worker_id)
        self.protocol = protocol
        self.started_at = time.monotonic()
        self.requests = 0
        self.ignore_shutdown = False
        self.exit_after_response = None
        self.hang_after_response = False
        # Set by the native runtime: request id -> bool, "has a cancel frame
        # for this request arrived?" (polls the input pipe without blocking).
        self.poll_cancel = None
        # Set by the native runtime: (ctx, function, args dict) -> the reply's
        # result; sends a call frame and waits for its reply (Context.call).
        # None where the protocol has no calls (snakepit-v0).
        self.call_host = None

    @property
    def command_names(self):
        return self.adapter.command_names if self.adapter is not None else []


class Context:
    """What a command receives as its first argument.

    ``worker_id``, ``request_id``, ``command``, ``started_at``
    (time.monotonic() when the request started), ``cancelled`` (True once the
    host sent ``cancel`` for this request), ``bridge`` (BridgeState),
    ``session_id`` (the request's session, None without one), ``session``
    (its data, see session.py), ``call()`` (ask the host for something) and
    ``functions()`` (what the host offers to call).

    A Context is not thread-safe: use ``cancelled``, ``session`` and
    ``call`` from the command's thread, while the command runs.
    """

    __slots__ = ("worker_id", "request_id", "command", "started_at", "bridge",
                 "session_id", "_cancelled", "_session")

    def __init__(self, request_id=0, command="", worker_id=None, bridge=None,
                 session_id=None):
        if bridge is None:
            bridge = BridgeState(worker_id=worker_id)
        self.bridge = bridge
        self.worker_id = bridge.worker_id if worker_id is None else worker_id
        self.request_id = request_id
        self.command = command
        self.session_id = session_id
        self.started_at = _monotonic()
        self._cancelled = False
        # _session stays unset until the first use of ``session``.

    @property
    def session(self):
        """The request's session data (a Session: get, set, delete, update,
        read, items/to_dict, info). Each operation is one call to the host;
        without a session (``session_id`` is None) each raises
        FailedPrecondition with reason ``no_session`` and sends nothing."""
        try:
            return self._session
        except AttributeError:
            session = self._session = Session(self)
            return session

    def call(self, function, /, **args):
        """Call ``function`` on the host with ``args`` (JSON values) on behalf
        of this request, and return the reply's result.

        Sends one ``call`` frame and blocks until its ``reply`` (see
        docs/protocol.md, "Calls to the host"; e.g. ``ctx.call("session.read",
        keys=["k"])``). While it waits, a ``cancel`` for this request sets
        ``cancelled`` and a ``ping`` is answered.

        Arguments and results may hold byte strings (``bytes``; also
        ``bytearray`` and ``memoryview`` in ``args``): they travel as bytes
        (docs/protocol.md, "Binary payloads") and come back as ``bytes``.
        Works from a streaming command's generator too, between yields.

        Raises HostCallError when the host replies with an error (its
        ``code``, ``details``, ``reason``, message and ``function``:
        NotFound/``unknown_function``, FailedPrecondition/``no_session`` or
        ``version_mismatch``, ResourceExhausted/``session_full`` or
        ``too_many_calls``, InvalidArgument, or whatever a registered
        function returned). The exception is also an instance of the
        class of its code, so ``except NotFound`` catches a NotFound reply
        as well as ``except HostCallError`` does (Internal has no class of
        its own: a plain HostCallError). InvalidArgument when ``args`` are
        not JSON; ResourceExhausted when the call would exceed the maximum
        frame; FailedPrecondition with reason ``no_calls`` where the
        protocol has no calls (snakepit-v0).
        """
        call_host = self.bridge.call_host
        if call_host is None:
            raise FailedPrecondition(
                "this worker cannot call the host (protocol %s)" % self.bridge.protocol,
                details={"reason": "no_calls"})
        return call_host(self, function, args)

    def functions(self):
        """The host functions this request may call: a list of
        ``{"name", "description", "scope"}`` (``scope``: "global" or
        "session"), from the built-in ``host.functions``. Raises like
        call()."""
        result = self.call("host.functions")
        functions = result.get("functions") if type(result) is dict else None
        if type(functions) is not list:
            from .errors import SnakepitError
            text = repr(result)
            raise SnakepitError("malformed reply from the host to host.functions: %s"
                                % (text if len(text) <= 200 else text[:200] + "..."),
                                details={"reason": "bad_reply"})
        return functions

    @property
    def cancelled(self):
        """True once a ``cancel`` frame for this request was seen.

        Checking it polls the input pipe (one non-blocking select), so a
        long-running command that checks it regularly can stop early.
        """
        if not self._cancelled:
            poll = self.bridge.poll_cancel
            if poll is not None and poll(self.request_id):
                self._cancelled = True
        return self._cancelled

    def cancel(self):
        """Mark this request cancelled (the runtime calls this)."""
        self._cancelled = True

    def __repr__(self):
        return ("Context(worker_id=%r, request_id=%r, command=%r, session_id=%r)"
                % (self.worker_id, self.request_id, self.command, self.session_id))
