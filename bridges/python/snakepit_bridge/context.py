"""The per-request Context handed to commands, and the bridge's shared state."""

import os
import time


class BridgeState:
    """State of the running bridge, reachable from commands as ``ctx.bridge``.

    ``requests``: requests completed so far. ``started_at``: time.monotonic()
    at start. ``ignore_shutdown`` (test hook): when set, ``shutdown`` and end of
    input no longer end the process; it sleeps until killed.
    ``exit_after_response`` (test hook): an exit code; the bridge calls
    ``os._exit(code)`` right after writing the current response.
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
        # Set by the native runtime: request id -> bool, "has a cancel frame
        # for this request arrived?" (polls the input pipe without blocking).
        self.poll_cancel = None

    @property
    def command_names(self):
        return self.adapter.command_names if self.adapter is not None else []


class Context:
    """What a command receives as its first argument.

    ``worker_id``, ``request_id``, ``command``, ``started_at``
    (time.monotonic() when the request started), ``cancelled`` (True once the
    host sent ``cancel`` for this request) and ``bridge`` (BridgeState).
    """

    __slots__ = ("worker_id", "request_id", "command", "started_at", "bridge",
                 "_cancelled")

    def __init__(self, request_id=0, command="", worker_id=None, bridge=None):
        if bridge is None:
            bridge = BridgeState(worker_id=worker_id)
        self.bridge = bridge
        self.worker_id = bridge.worker_id if worker_id is None else worker_id
        self.request_id = request_id
        self.command = command
        self.started_at = time.monotonic()
        self._cancelled = False

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
        return ("Context(worker_id=%r, request_id=%r, command=%r)"
                % (self.worker_id, self.request_id, self.command))
