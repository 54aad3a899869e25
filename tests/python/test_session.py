"""Session data from commands: ctx.session / ctx.call over call and reply
frames (docs/protocol.md, "Calls to the host").

Most tests run a NativeBridge in a thread over two pipes and play the host
frame by frame (support.InProcessBridge); the generic adapter's session
commands run in a real bridge process against a fake session store
(support.FakeSessionHost).
"""

import json
import sys
import unittest

try:
    from . import support
except ImportError:
    import support

import snakepit_bridge as sb
from snakepit_bridge import errors
from snakepit_bridge.context import BridgeState, Context
from snakepit_bridge.framing import ProtocolError

REQUEST, RESPONSE, CALL, REPLY = support.REQUEST, support.RESPONSE, support.CALL, support.REPLY
CANCEL, PING, PONG, SHUTDOWN = support.CANCEL, support.PING, support.PONG, support.SHUTDOWN
ERROR = support.ERROR


def golden(name):
    with open(support.GOLDEN, encoding="utf-8") as f:
        return {e["name"]: e for e in json.load(f)}[name]


def caught(fn):
    """Run fn(); its result, or the SnakepitError it raised as a dict."""
    try:
        return fn()
    except sb.SnakepitError as exc:
        return {"error": type(exc).__name__, "code": exc.code, "details": exc.details,
                "message": str(exc)}


class BridgeCase(unittest.TestCase):
    def start(self, max_frame=1 << 20, **commands):
        bridge = support.InProcessBridge(commands, max_frame=max_frame)
        self.addCleanup(bridge.cleanup)
        return bridge

    def expect_call(self, bridge, call_id, function, args):
        self.assertEqual(bridge.recv_frame(),
                         (CALL, 0, call_id, {"function": function, "args": args}))

    def reply(self, bridge, call_id, result, flags=0):
        bridge.send_frame(REPLY, call_id, result, flags)

    def expect_response(self, bridge, request_id, result):
        self.assertEqual(bridge.recv_frame(), (RESPONSE, 0, request_id, result))

    def expect_error(self, bridge, request_id):
        kind, flags, frame_id, err = bridge.recv_frame()
        self.assertEqual((kind, flags, frame_id), (RESPONSE, ERROR, request_id))
        return err

    def expect_stopped_without_response(self, bridge):
        """The bridge stopped serving and wrote nothing more."""
        outcome = None
        try:
            outcome = bridge.wait()
        finally:
            self.assertTrue(bridge.reader.at_eof(), "nothing may follow")
        return outcome


class SessionIdTest(BridgeCase):
    def test_session_id(self):
        bridge = self.start(sid=lambda ctx: ctx.session_id)
        bridge.request_with_session(1, "sid", "s-1")
        self.expect_response(bridge, 1, "s-1")
        self.assertEqual(bridge.request(2, "sid"), (RESPONSE, 0, 2, None))
        bridge.request_with_session(3, "sid", None)  # null: no session
        self.expect_response(bridge, 3, None)

    def test_session_not_a_string(self):
        ran = []
        bridge = self.start(sid=lambda ctx: ran.append(1))
        for i, bad in enumerate((5, ["s"], {"id": "s"}, True), 1):
            with self.subTest(bad):
                bridge.request_with_session(i, "sid", bad)
                err = self.expect_error(bridge, i)
                self.assertEqual((err["code"], err["type"]), ("InvalidArgument", "TypeError"))
                self.assertIn('"session" must be a string', err["message"])
        self.assertEqual(ran, [])

    def test_golden_request_with_session(self):
        bridge = self.start(session_get=lambda ctx, key: [ctx.session_id, key])
        entry = golden("request_session")
        bridge.send(bytes.fromhex(entry["hex"]))
        self.expect_response(bridge, entry["id"], ["s-1", "k"])


class SessionOperationsTest(BridgeCase):
    """Each operation sends the right call frame and returns the reply's value."""

    def run_op(self, op, function, args, reply, expected, call_id=1):
        bridge = self.start(op=lambda ctx: op(ctx.session))
        bridge.request_with_session(7, "op", "s-1")
        self.expect_call(bridge, call_id, function, args)
        self.reply(bridge, call_id, reply)
        self.expect_response(bridge, 7, expected)

    def test_get(self):
        self.run_op(lambda s: s.get("k"), "session.read", {"keys": ["k"]},
                    {"values": {"k": {"x": [1]}}, "version": 3}, {"x": [1]})
        self.run_op(lambda s: s.get("k"), "session.read", {"keys": ["k"]},
                    {"values": {}, "version": 3}, None)
        self.run_op(lambda s: s.get("k", "dflt"), "session.read", {"keys": ["k"]},
                    {"values": {}, "version": 3}, "dflt")
        self.run_op(lambda s: s.get("k", "dflt"), "session.read", {"keys": ["k"]},
                    {"values": {"k": None}, "version": 3}, None)

    def test_set(self):
        self.run_op(lambda s: s.set("k", [1, "two"]), "session.update",
                    {"set": {"k": [1, "two"]}}, {"version": 4}, 4)

    def test_delete(self):
        self.run_op(lambda s: s.delete("k"), "session.update", {"delete": ["k"]},
                    {"version": 5}, 5)

    def test_update(self):
        self.run_op(lambda s: s.update(set={"a": 1}, delete=("b", "c"), if_version=2),
                    "session.update",
                    {"set": {"a": 1}, "delete": ["b", "c"], "if_version": 2},
                    {"version": 3}, 3)
        self.run_op(lambda s: s.update(delete=["b"]), "session.update", {"delete": ["b"]},
                    {"version": 9}, 9)
        self.run_op(lambda s: s.update(), "session.update", {}, {"version": 9}, 9)
        self.run_op(lambda s: s.update(if_version=0, set={}), "session.update",
                    {"set": {}, "if_version": 0}, {"version": 1}, 1)

    def test_read(self):
        self.run_op(lambda s: s.read("a", "b"), "session.read", {"keys": ["a", "b"]},
                    {"values": {"a": 1}, "version": 6}, [{"a": 1}, 6])
        self.run_op(lambda s: s.read(), "session.read", {},
                    {"values": {"a": 1, "z": 2}, "version": 6}, [{"a": 1, "z": 2}, 6])

    def test_items_and_to_dict(self):
        for name in ("items", "to_dict"):
            with self.subTest(name):
                self.run_op(lambda s: getattr(s, name)(), "session.read", {},
                            {"values": {"a": 1}, "version": 6}, {"a": 1})

    def test_info(self):
        info = {"id": "s-1", "created": 1, "last_accessed": 2, "ttl_s": 60, "worker_id": "w",
                "metadata": {"m": 1}, "keys": 2, "bytes": 10, "version": 6}
        self.run_op(lambda s: s.info(), "session.info", {}, info, info)

    def test_malformed_reply_result_is_an_internal_error(self):
        for op, reply in ((lambda s: s.get("k"), {"version": 1}),
                          (lambda s: s.set("k", 1), {"version": "1"}),
                          (lambda s: s.read(), [1]),
                          (lambda s: s.info(), None)):
            with self.subTest(reply=reply):
                bridge = self.start(op=lambda ctx: op(ctx.session))
                bridge.request_with_session(1, "op", "s-1")
                bridge.recv_frame()
                self.reply(bridge, 1, reply)
                err = self.expect_error(bridge, 1)
                self.assertEqual((err["code"], err["details"]), ("Internal", {"reason": "bad_reply"}))

    def test_bad_arguments_are_refused_without_a_call(self):
        def op(ctx):
            s = ctx.session
            return [caught(lambda: s.set(1, "v")),
                    caught(lambda: s.update(set={"a": 1, 2: 3})),
                    caught(lambda: s.update(set=[("a", 1)])),
                    caught(lambda: s.update(delete="key")),
                    caught(lambda: s.update(delete={"k": 1})),
                    caught(lambda: s.get(1)),
                    caught(lambda: s.read("a", None)),
                    caught(lambda: s.delete(2.5))]
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        kind, _, _, results = bridge.recv_frame()
        self.assertEqual(kind, RESPONSE)  # no call frame came first
        self.assertEqual([r["code"] for r in results], ["InvalidArgument"] * 8)

    def test_call_ids_count_from_one_across_requests(self):
        def two_gets(ctx):
            return [ctx.session.get("a"), ctx.session.get("b")]
        bridge = self.start(two_gets=two_gets)
        for request_id, first in ((1, 1), (2, 3)):
            bridge.request_with_session(request_id, "two_gets", "s-1")
            for call_id, key in ((first, "a"), (first + 1, "b")):
                self.expect_call(bridge, call_id, "session.read", {"keys": [key]})
                self.reply(bridge, call_id, {"values": {key: call_id}, "version": 0})
            self.expect_response(bridge, request_id, [first, first + 1])

    def test_session_object(self):
        seen = []

        def probe(ctx):
            seen.append(ctx.session is ctx.session)
            return [ctx.session.id, repr(ctx.session)]
        bridge = self.start(probe=probe)
        bridge.request_with_session(1, "probe", "s-9")
        self.expect_response(bridge, 1, ["s-9", "Session('s-9')"])
        self.assertEqual(seen, [True])

    def test_golden_call_and_replies(self):
        """The bridge writes the golden call frame byte for byte and reads
        the golden replies."""
        def golden_calls(ctx):
            first = ctx.session.get("k")
            return [first, caught(lambda: ctx.call("x"))]
        bridge = self.start(golden_calls=golden_calls)
        bridge.request_with_session(1, "golden_calls", "s-1")
        self.assertEqual(bridge.recv_raw().hex(), golden("call")["hex"])
        bridge.send(bytes.fromhex(golden("reply")["hex"]))
        self.assertEqual(bridge.recv_frame()[:3], (CALL, 0, 2))
        bridge.send(bytes.fromhex(golden("reply_error")["hex"]))
        self.expect_response(bridge, 1, [1, {
            "error": "HostCallError", "code": "NotFound",
            "details": {"reason": "unknown_function"}, "message": "no host function 'x'"}])


class CallTest(BridgeCase):
    def test_generic_call(self):
        bridge = self.start(op=lambda ctx: ctx.call("demo.fn", x=[1, "\u00e9"], function="f"))
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        self.expect_call(bridge, 1, "demo.fn", {"x": [1, "\u00e9"], "function": "f"})
        self.reply(bridge, 1, [1, 2])
        self.expect_response(bridge, 1, [1, 2])

    def test_call_without_session_is_sent(self):
        # ctx.call is general: the host decides (e.g. its no_session error).
        bridge = self.start(op=lambda ctx: caught(lambda: ctx.call("session.read")))
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        self.expect_call(bridge, 1, "session.read", {})
        self.reply(bridge, 1, {"code": "FailedPrecondition", "message": "no session",
                               "details": {"reason": "no_session"}}, ERROR)
        self.expect_response(bridge, 1, {
            "error": "HostCallError", "code": "FailedPrecondition",
            "details": {"reason": "no_session"}, "message": "no session"})

    def test_bad_arguments_send_nothing(self):
        def op(ctx):
            return [caught(lambda: ctx.call("f", x={1, 2})),
                    caught(lambda: ctx.call("f", x=float("nan"))),
                    caught(lambda: ctx.call("f", x="\udcff")),
                    caught(lambda: ctx.call(5)),
                    caught(lambda: ctx.call("f", blob="x" * 2000))]
        bridge = self.start(max_frame=1024, op=op)
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        kind, _, _, results = bridge.recv_frame()
        self.assertEqual(kind, RESPONSE)  # and no call frame before it
        self.assertEqual([r["code"] for r in results],
                         ["InvalidArgument"] * 4 + ["ResourceExhausted"])
        self.assertEqual(results[4]["details"], {"reason": "call_too_large"})
        # The next call still gets id 1.
        bridge = self.start(op=lambda ctx: ctx.call("f"))
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        self.expect_call(bridge, 1, "f", {})


class HostCallErrorTest(BridgeCase):
    FULL = {"code": "ResourceExhausted", "message": "session s-1 is full",
            "details": {"reason": "session_full", "limit_bytes": 1024}}

    def test_caught(self):
        def op(ctx):
            try:
                ctx.session.set("k", "v")
            except sb.HostCallError as exc:
                return [exc.code, exc.details, str(exc), exc.function, exc.reason,
                        isinstance(exc, sb.SnakepitError)]
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        self.expect_call(bridge, 1, "session.update", {"set": {"k": "v"}})
        self.reply(bridge, 1, self.FULL, ERROR)
        self.expect_response(bridge, 1, [
            "ResourceExhausted", {"reason": "session_full", "limit_bytes": 1024},
            "session s-1 is full", "session.update", "session_full", True])

    def test_uncaught_gives_the_code_and_details(self):
        bridge = self.start(op=lambda ctx: ctx.session.set("k", "v"))
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        self.reply(bridge, 1, self.FULL, ERROR)
        err = self.expect_error(bridge, 1)
        self.assertEqual((err["code"], err["type"], err["message"], err["details"]),
                         ("ResourceExhausted", "HostCallError", "session s-1 is full",
                          {"reason": "session_full", "limit_bytes": 1024}))
        self.assertIn("Traceback", err["traceback"])

    def test_odd_error_objects(self):
        cases = [
            ({"code": "Bogus", "message": "m"}, ("Internal", {}, "m")),
            ({"message": "m", "details": [1]}, ("Internal", {}, "m")),
            ({"code": "NotFound"}, ("NotFound", {}, "call to f failed")),
            ("plain text", ("Internal", {}, "plain text")),
            (None, ("Internal", {}, "call to f failed")),
        ]
        for error_object, (code, details, message) in cases:
            with self.subTest(error_object):
                bridge = self.start(op=lambda ctx: ctx.call("f"))
                bridge.send_frame(REQUEST, 1, {"command": "op"})
                bridge.recv_frame()
                self.reply(bridge, 1, error_object, ERROR)
                err = self.expect_error(bridge, 1)
                self.assertEqual((err["code"], err["message"]), (code, message))
                self.assertNotIn("details", err)  # only when non-empty

    def test_reply_type_kept(self):
        bridge = self.start(op=lambda ctx: ctx.call("f"))
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        bridge.recv_frame()
        self.reply(bridge, 1, {"code": "InvalidArgument", "type": "KeyError", "message": "m"},
                   ERROR)
        self.assertEqual(self.expect_error(bridge, 1)["type"], "KeyError")


class NoSessionTest(BridgeCase):
    OPS = {
        "get": lambda s: s.get("k"), "set": lambda s: s.set("k", 1),
        "delete": lambda s: s.delete("k"), "update": lambda s: s.update(set={"k": 1}),
        "read": lambda s: s.read("k"), "read_all": lambda s: s.read(),
        "items": lambda s: s.items(), "to_dict": lambda s: s.to_dict(),
        "info": lambda s: s.info(),
    }

    def test_every_operation_fails_without_a_call(self):
        def op(ctx):
            return {name: caught(lambda: fn(ctx.session)) for name, fn in self.OPS.items()}
        bridge = self.start(op=op)
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        kind, flags, _, results = bridge.recv_frame()  # the response: no call came first
        self.assertEqual((kind, flags), (RESPONSE, 0))
        self.assertEqual(set(results), set(self.OPS))
        for name, result in results.items():
            with self.subTest(name):
                self.assertEqual((result["error"], result["code"], result["details"]),
                                 ("FailedPrecondition", "FailedPrecondition",
                                  {"reason": "no_session"}))
                self.assertEqual(result["message"],
                                 "this request has no session (use execute_in_session)")

    def test_uncaught(self):
        bridge = self.start(op=lambda ctx: ctx.session.get("k"))
        bridge.send_frame(REQUEST, 1, {"command": "op"})
        err = self.expect_error(bridge, 1)
        self.assertEqual((err["code"], err["type"], err["details"]),
                         ("FailedPrecondition", "FailedPrecondition", {"reason": "no_session"}))

    def test_context_without_calls(self):
        # snakepit-v0, or a Context made by hand: no call channel.
        for ctx in (Context(1, "x"), Context(1, "x", None, BridgeState(protocol="snakepit-v0"),
                                                 session_id="s-1")):
            with self.subTest(ctx=ctx):
                for name, fn in self.OPS.items():
                    result = caught(lambda: fn(ctx.session))
                    self.assertEqual((result["code"], result["details"]),
                                     ("FailedPrecondition", {"reason": "no_calls"}), name)
                result = caught(lambda: ctx.call("session.info"))
                self.assertEqual((result["code"], result["details"]),
                                 ("FailedPrecondition", {"reason": "no_calls"}))
        self.assertIsNone(Context().session_id)


class WhileWaitingTest(BridgeCase):
    """Frames other than the reply, arriving while a command waits for it."""

    def test_cancel_marks_the_request_cancelled(self):
        def op(ctx):
            before = ctx.cancelled
            value = ctx.session.get("k")
            return [before, value, ctx.cancelled]
        bridge = self.start(op=op)
        bridge.request_with_session(4, "op", "s-1")
        bridge.recv_frame()
        bridge.send_frame(CANCEL, 3)  # late, for an earlier request: ignored
        self.reply(bridge, 1, {"values": {"k": 1}, "version": 1})
        self.expect_response(bridge, 4, [False, 1, False])

        bridge.request_with_session(5, "op", "s-1")
        bridge.recv_frame()
        bridge.send(support.frame(CANCEL, 5)
                    + support.frame(REPLY, 2, {"values": {}, "version": 1}))
        self.expect_response(bridge, 5, [False, None, True])

    def test_peeked_cancel_then_call(self):
        # ctx.cancelled peeks at a cancel frame without consuming it; the
        # call then reads past it.
        def op(ctx):
            while not ctx.cancelled:
                pass
            return ctx.session.get("k")
        bridge = self.start(op=op)
        bridge.send(support.frame(REQUEST, 1, {"command": "op", "args": {}, "session": "s"})
                    + support.frame(CANCEL, 1))
        self.expect_call(bridge, 1, "session.read", {"keys": ["k"]})
        self.reply(bridge, 1, {"values": {"k": "v"}, "version": 1})
        self.expect_response(bridge, 1, "v")

    def test_ping_is_answered_at_once(self):
        bridge = self.start(op=lambda ctx: ctx.session.get("k"))
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.send_frame(PING, 77)
        self.assertEqual(bridge.recv_frame(), (PONG, 0, 77, None))  # before the reply
        bridge.send_frame(PING, 78)
        self.assertEqual(bridge.recv_frame(), (PONG, 0, 78, None))
        self.reply(bridge, 1, {"values": {"k": 2}, "version": 1})
        self.expect_response(bridge, 1, 2)

    def test_shutdown_takes_effect_after_the_response(self):
        def op(ctx):
            return [ctx.session.get("a"), ctx.session.get("b")]
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.send_frame(SHUTDOWN, 0)
        self.reply(bridge, 1, {"values": {"a": 1}, "version": 1})
        # Calls still work until the command ends.
        self.expect_call(bridge, 2, "session.read", {"keys": ["b"]})
        self.reply(bridge, 2, {"values": {"b": 2}, "version": 1})
        self.expect_response(bridge, 1, [1, 2])
        bridge.send_frame(PING, 9)  # (after the shutdown: never read)
        self.assertEqual(self.expect_stopped_without_response(bridge), 0)

    def test_frames_after_a_shutdown_are_not_read(self):
        bridge = self.start(op=lambda ctx: ctx.session.get("a"))
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.send(support.frame(SHUTDOWN, 0)
                    + support.frame(REPLY, 1, {"values": {}, "version": 1})
                    + support.frame(REQUEST, 2, {"command": "op"}))
        self.expect_response(bridge, 1, None)
        self.assertEqual(self.expect_stopped_without_response(bridge), 0)

    def test_unexpected_frames_are_protocol_errors(self):
        cases = {
            "request": support.frame(REQUEST, 2, {"command": "op"}),
            "reply for another call": support.frame(REPLY, 2, {"values": {}, "version": 1}),
            "reply with bad json": support.frame(REPLY, 1, b"{"),
            "empty reply": support.frame(REPLY, 1, b""),
            "malformed frame": support.HEADER.pack(12, 77, 0, 0, 1),
        }
        for name, data in cases.items():
            with self.subTest(name):
                bridge = self.start(op=lambda ctx: ctx.session.get("k"))
                bridge.request_with_session(1, "op", "s-1")
                bridge.recv_frame()
                bridge.send(data)
                with self.assertRaises(ProtocolError):
                    self.expect_stopped_without_response(bridge)

    def test_protocol_error_swallowed_by_the_command(self):
        def op(ctx):
            try:
                ctx.session.get("k")
            except BaseException:  # noqa: B902 - on purpose
                pass
            return caught(lambda: ctx.session.get("k"))  # raises again
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.send_frame(REQUEST, 2, {"command": "op"})
        with self.assertRaises(ProtocolError):
            self.expect_stopped_without_response(bridge)

    def test_end_of_input_ends_without_response(self):
        finished = []

        def op(ctx):
            try:
                return ctx.session.get("k")
            finally:
                finished.append(True)
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.close_input()
        self.assertEqual(self.expect_stopped_without_response(bridge), 0)
        self.assertEqual(finished, [True])  # unwound, not abandoned

    def test_end_of_input_swallowed_by_the_command(self):
        def op(ctx):
            try:
                ctx.session.get("k")
            except BaseException:  # noqa: B902 - on purpose
                pass
            return "answered anyway"
        bridge = self.start(op=op)
        bridge.request_with_session(1, "op", "s-1")
        bridge.recv_frame()
        bridge.close_input()
        self.assertEqual(self.expect_stopped_without_response(bridge), 0)

    def test_reply_while_idle_is_a_protocol_error(self):
        bridge = self.start(op=lambda ctx: 1)
        bridge.send_frame(REPLY, 1, {"values": {}, "version": 1})
        with self.assertRaises(ProtocolError):
            self.expect_stopped_without_response(bridge)


class ErrorDetailsTest(unittest.TestCase):
    def test_snakepit_error_details(self):
        exc = sb.NotFound("gone", details={"reason": "expired", "key": "k"})
        self.assertEqual((exc.details, exc.reason), ({"reason": "expired", "key": "k"}, "expired"))
        self.assertEqual((sb.NotFound("x").details, sb.NotFound("x").reason), ({}, None))
        err = errors.error_from_exception(exc, "tb")
        self.assertEqual(err, {"code": "NotFound", "type": "NotFound", "message": "gone",
                               "traceback": "tb", "details": {"reason": "expired", "key": "k"}})
        self.assertNotIn("details", errors.error_from_exception(sb.NotFound("x"), "tb"))
        self.assertNotIn("details", errors.error_from_exception(ValueError("x"), "tb"))

    def test_make_error_details(self):
        self.assertEqual(errors.make_error("NotFound", "T", "m", details={"reason": "r"}),
                         {"code": "NotFound", "type": "T", "message": "m",
                          "details": {"reason": "r"}})
        self.assertEqual(errors.make_error("NotFound", "T", "m", details={}),
                         {"code": "NotFound", "type": "T", "message": "m"})

    def test_unencodable_details_are_replaced(self):
        for details in ({"s": {1}}, {"f": float("nan")}, ["not", "a", "dict"]):
            with self.subTest(details):
                err = errors.error_from_exception(sb.Unavailable("m", details=details), None)
                self.assertEqual(list(err["details"]), ["invalid_details"])
                json.dumps(err, allow_nan=False)

    def test_host_call_error(self):
        exc = sb.HostCallError("m", code="NotFound", details={"reason": "unknown_function"},
                               function="x")
        self.assertEqual((exc.code, exc.function, exc.reason), ("NotFound", "x", "unknown_function"))
        self.assertTrue(issubclass(sb.HostCallError, sb.SnakepitError))
        self.assertIn("HostCallError", sb.__all__)


class GenericSessionCommandsTest(unittest.TestCase):
    """The generic adapter's session commands in a real bridge process."""

    def setUp(self):
        self.worker = support.NativeWorker()
        self.addCleanup(self.worker.cleanup)
        self.assertEqual(self.worker.recv_frame()[0], support.HELLO)
        self.host = support.FakeSessionHost()

    def run_command(self, request_id, command, **args):
        return self.host.run(self.worker, request_id, command, **args)

    def test_put_get_info(self):
        self.assertEqual(self.run_command(1, "session_put", key="k", value={"a": [1]}),
                         (RESPONSE, 0, 1, {"version": 1}))
        self.assertEqual(self.run_command(2, "session_get", key="k"), (RESPONSE, 0, 2, {"a": [1]}))
        self.assertEqual(self.run_command(3, "session_get", key="nope"), (RESPONSE, 0, 3, None))
        _, flags, _, info = self.run_command(4, "session_info")
        self.assertEqual((flags, info["id"], info["keys"], info["version"]), (0, "s-1", 1, 1))
        self.assertEqual([payload["function"] for _, payload in self.host.calls],
                         ["session.update", "session.read", "session.read", "session.info"])
        self.assertEqual([call_id for call_id, _ in self.host.calls], [1, 2, 3, 4])

    def test_append_and_sum(self):
        for i, value in enumerate((3, 4.5, -1), 1):
            self.assertEqual(self.run_command(i, "session_append", key="xs", value=value),
                             (RESPONSE, 0, i, {"length": i, "version": i}))
        self.assertEqual(self.host.data, {"xs": [3, 4.5, -1]})
        self.assertEqual(self.run_command(9, "session_sum", key="xs"), (RESPONSE, 0, 9, 6.5))
        self.assertEqual(self.run_command(10, "session_sum", key="none"), (RESPONSE, 0, 10, 0))
        # Each append: a read, then an update guarded by the version read.
        read, update = self.host.calls[2][1], self.host.calls[3][1]
        self.assertEqual(read, {"function": "session.read", "args": {"keys": ["xs"]}})
        self.assertEqual(update, {"function": "session.update",
                                  "args": {"set": {"xs": [3, 4.5]}, "if_version": 1}})

    def test_append_retries_on_version_mismatch(self):
        self.host.write({"xs": [1]})  # version 1

        def other_writer(host, args):
            host.before_update = None
            host.write({"xs": host.data["xs"] + [2]})  # lands between read and update
        self.host.before_update = other_writer
        self.assertEqual(self.run_command(1, "session_append", key="xs", value=3),
                         (RESPONSE, 0, 1, {"length": 3, "version": 3}))
        self.assertEqual(self.host.data["xs"], [1, 2, 3])
        functions = [(p["function"], p["args"].get("if_version")) for _, p in self.host.calls]
        self.assertEqual(functions, [("session.read", None), ("session.update", 1),
                                     ("session.read", None), ("session.update", 2)])

    def test_append_gives_up_after_bounded_retries(self):
        self.host.before_update = lambda host, args: host.write()
        _, flags, _, err = self.run_command(1, "session_append", key="xs", value=3)
        self.assertEqual((flags, err["code"], err["details"]),
                         (ERROR, "Unavailable", {"reason": "contention", "attempts": 100}))
        self.assertEqual(len(self.host.calls), 200)
        self.assertNotIn("xs", self.host.data)

    def test_append_other_errors_are_not_retried(self):
        original = self.host.answer

        def answer(payload):
            if payload["function"] == "session.update":
                return ERROR, {"code": "ResourceExhausted", "message": "full",
                               "details": {"reason": "session_full"}}
            return original(payload)
        self.host.answer = answer
        _, flags, _, err = self.run_command(1, "session_append", key="xs", value=3)
        self.assertEqual((flags, err["code"], err["details"]),
                         (ERROR, "ResourceExhausted", {"reason": "session_full"}))
        self.assertEqual(len(self.host.calls), 2)

    def test_bad_stored_values(self):
        self.host.write({"s": "text", "mixed": [1, "2"], "flags": [True], "null": None})
        for i, (command, key) in enumerate((("session_append", "s"), ("session_sum", "s"),
                                            ("session_sum", "mixed"), ("session_sum", "flags"),
                                            ("session_sum", "null")), 1):
            with self.subTest(command=command, key=key):
                args = {"key": key, "value": 1} if command == "session_append" else {"key": key}
                _, flags, _, err = self.run_command(i, command, **args)
                self.assertEqual((flags, err["code"]), (ERROR, "InvalidArgument"))

    def test_no_session(self):
        calls_before = len(self.host.calls)
        for i, (command, args) in enumerate((("session_put", {"key": "k", "value": 1}),
                                             ("session_get", {"key": "k"}),
                                             ("session_append", {"key": "k", "value": 1}),
                                             ("session_sum", {"key": "k"}),
                                             ("session_info", {})), 1):
            with self.subTest(command):
                _, flags, _, err = self.run_command(i, command, session=None, **args)
                self.assertEqual((flags, err["code"], err["details"]),
                                 (ERROR, "FailedPrecondition", {"reason": "no_session"}))
        self.assertEqual(len(self.host.calls), calls_before)

    def test_local_counter(self):
        pid = self.worker.proc.pid
        results = [self.run_command(i, "local_counter", session=s)[3]
                   for i, s in enumerate(("a", "a", "b", None, "a", None), 1)]
        self.assertEqual(results, [
            {"count": 1, "pid": pid, "session_id": "a"},
            {"count": 2, "pid": pid, "session_id": "a"},
            {"count": 1, "pid": pid, "session_id": "b"},
            {"count": 1, "pid": pid, "session_id": None},
            {"count": 3, "pid": pid, "session_id": "a"},
            {"count": 2, "pid": pid, "session_id": None},
        ])
        self.assertEqual(self.host.calls, [])

    def test_worker_memory_dies_with_the_worker_host_data_does_not(self):
        self.run_command(1, "session_put", key="k", value="kept")
        self.assertEqual(self.run_command(2, "local_counter")[3]["count"], 1)
        self.assertEqual(self.run_command(3, "local_counter")[3]["count"], 2)
        self.worker.send_frame(REQUEST, 4, {"command": "crash", "args": {"code": 9}})
        self.assertEqual(self.worker.wait(), 9)
        replacement = support.NativeWorker()
        self.addCleanup(replacement.cleanup)
        replacement.recv_frame()
        self.assertEqual(self.host.run(replacement, 1, "local_counter")[3]["count"], 1)
        self.assertEqual(self.host.run(replacement, 2, "session_get", key="k")[3], "kept")

    def test_end_of_input_while_waiting(self):
        self.worker.send_frame(REQUEST, 1, {"command": "session_get", "args": {"key": "k"},
                                            "session": "s-1"})
        self.assertEqual(self.worker.recv_frame()[0], CALL)
        self.worker.close_input()
        self.assertEqual(self.worker.wait(), 0)
        self.assertTrue(self.worker.reader.at_eof())

    def test_protocol_error_while_waiting(self):
        self.worker.send_frame(REQUEST, 1, {"command": "session_get", "args": {"key": "k"},
                                            "session": "s-1"})
        self.assertEqual(self.worker.recv_frame()[0], CALL)
        self.worker.send_frame(REQUEST, 2, {"command": "ping"})
        self.assertEqual(self.worker.wait(), 3)
        self.assertIn(b"protocol error", self.worker.stderr)
        self.assertTrue(self.worker.reader.at_eof())

    def test_shutdown_while_waiting(self):
        self.worker.send_frame(REQUEST, 1, {"command": "session_get", "args": {"key": "k"},
                                            "session": "s-1"})
        self.assertEqual(self.worker.recv_frame()[:3], (CALL, 0, 1))
        self.worker.send(support.frame(PING, 5) + support.frame(SHUTDOWN, 0))
        self.assertEqual(self.worker.recv_frame(), (PONG, 0, 5, None))
        self.worker.send_frame(REPLY, 1, {"values": {"k": 7}, "version": 1})
        self.assertEqual(self.worker.recv_frame(), (RESPONSE, 0, 1, 7))
        self.assertEqual(self.worker.wait(), 0)
        self.assertTrue(self.worker.reader.at_eof())


class V0SessionTest(unittest.TestCase):
    """snakepit-v0 has no calls: sessions fail cleanly, the rest works."""

    def test_v0(self):
        worker = support.V0Worker([sys.executable, "-m", "snakepit_bridge", "--protocol",
                                   "snakepit-v0"])
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.request(1, "ping", {"worker_id": "v", "initialization": True})
                         ["result"]["status"], "ok")
        failed = worker.request(2, "session_get", {"key": "k"})
        self.assertFalse(failed["success"])
        self.assertTrue(failed["error"].startswith("FailedPrecondition: "), failed["error"])
        self.assertEqual(worker.request(3, "local_counter")["result"],
                         {"count": 1, "pid": worker.proc.pid, "session_id": None})
        self.assertEqual(worker.request(4, "echo", {"a": 1})["result"], {"a": 1})
        worker.close_input()
        self.assertEqual(worker.wait(), 0)


if __name__ == "__main__":
    unittest.main()
