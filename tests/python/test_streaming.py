"""Streaming (docs/protocol.md, "Streaming"): requests with the STREAM flag
get ``chunk`` frames then one ``end``; typed host call errors and
``ctx.functions()``.

Most tests run a NativeBridge in a thread over two pipes and play the host
frame by frame (support.InProcessBridge); the generic adapter's streaming
commands run in a real bridge process.
"""

import unittest

try:
    from . import support
except ImportError:
    import support

import snakepit_bridge as sb
from snakepit_bridge import errors

REQUEST, RESPONSE, CALL, REPLY = support.REQUEST, support.RESPONSE, support.CALL, support.REPLY
CHUNK, END, CANCEL, PING, PONG = support.CHUNK, support.END, support.CANCEL, support.PING, support.PONG
SHUTDOWN, HELLO = support.SHUTDOWN, support.HELLO
ERROR, BINARY, STREAM = support.ERROR, support.BINARY, support.STREAM

CANCELLED = {"code": "Cancelled", "type": "Cancelled", "message": "stream cancelled by the host"}


def numbers(ctx, n, fail_at=None, final="done"):
    for i in range(n):
        if i == fail_at:
            raise ValueError("boom at %d" % i)
        yield i
    return final


class StreamCase(unittest.TestCase):
    def start(self, streaming=(), **commands):
        bridge = support.InProcessBridge(commands, streaming=streaming)
        self.addCleanup(bridge.cleanup)
        return bridge

    def stream(self, end, frame_id, command, on_frame=None, **args):
        end.send_request(frame_id, command, args, STREAM)
        return end.recv_stream(frame_id, on_frame)


class StreamTest(StreamCase):
    def test_chunks_in_order_then_end_value(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        self.assertEqual(self.stream(bridge, 5, "numbers", n=4),
                         ([0, 1, 2, 3], (0, "done")))
        # Empty stream; a generator without a return value ends with null.
        self.assertEqual(self.stream(bridge, 6, "numbers", n=0, final=None), ([], (0, None)))
        bridge.send_request(7, "numbers", {"n": 1, "final": None}, STREAM)
        self.assertEqual(bridge.recv_raw(), support.frame(CHUNK, 7, b"0"))
        self.assertEqual(bridge.recv_raw(), support.frame(END, 7, b"null"))

    def test_golden_stream_frames(self):
        golden = support_golden()

        def count(ctx, n):
            for i in range(n):
                yield {"i": i}
            return {"count": n}
        bridge = self.start(streaming=("count",), count=count)
        bridge.send(bytes.fromhex(golden["request_stream"]["hex"]))
        self.assertEqual(bridge.recv_raw().hex(), golden["chunk"]["hex"])
        bridge.recv_raw()  # {"i": 1}
        self.assertEqual(bridge.recv_raw().hex(), golden["end"]["hex"])

    def test_streaming_command_without_stream_flag_gives_the_list(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        self.assertEqual(bridge.request(1, "numbers", n=3), (RESPONSE, 0, 1, [0, 1, 2]))
        kind, flags, _, err = bridge.request(2, "numbers", n=3, fail_at=1)
        self.assertEqual((kind, flags, err["code"], err["type"], err["message"]),
                         (RESPONSE, ERROR, "Internal", "ValueError", "boom at 1"))

    def test_non_streaming_command_with_stream_flag(self):
        bridge = self.start(add=lambda ctx, a, b: a + b, boom=lambda ctx: 1 / 0)
        self.assertEqual(self.stream(bridge, 1, "add", a=1, b=2), ([], (0, 3)))
        chunks, (flags, err) = self.stream(bridge, 2, "boom")
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([], ERROR, "Internal", "ZeroDivisionError"))

    def test_function_returning_an_iterator(self):
        bridge = self.start(streaming=("it", "bad"), it=lambda ctx: iter([{"a": 1}, [2]]),
                            bad=lambda ctx: 5)
        self.assertEqual(self.stream(bridge, 1, "it"), ([{"a": 1}, [2]], (0, None)))
        self.assertEqual(bridge.request(2, "it"), (RESPONSE, 0, 2, [{"a": 1}, [2]]))
        chunks, (flags, err) = self.stream(bridge, 3, "bad")
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([], ERROR, "Internal", "TypeError"))
        self.assertIn("not iterable", err["message"])

    def test_error_mid_stream(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        chunks, (flags, err) = self.stream(bridge, 1, "numbers", n=5, fail_at=2)
        self.assertEqual((chunks, flags), ([0, 1], ERROR))
        self.assertEqual((err["code"], err["type"], err["message"]),
                         ("Internal", "ValueError", "boom at 2"))
        # The traceback starts in the command, not in the bridge.
        self.assertIn("in numbers", err["traceback"])
        self.assertNotIn("_pump", err["traceback"])

        # SnakepitError codes are kept.
        def refuse(ctx):
            yield 1
            raise sb.NotFound("gone", details={"reason": "r"})
        bridge2 = self.start(streaming=("refuse",), refuse=refuse)
        chunks, (flags, err) = self.stream(bridge2, 2, "refuse")
        self.assertEqual((chunks, flags, err["code"], err["details"]),
                         ([1], ERROR, "NotFound", {"reason": "r"}))

    def test_request_errors_end_the_stream(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        chunks, (flags, err) = self.stream(bridge, 1, "nope")
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([], ERROR, "InvalidArgument", "UnknownCommand"))
        chunks, (flags, err) = self.stream(bridge, 2, "numbers", m=1)
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([], ERROR, "InvalidArgument", "TypeError"))
        for i, body in enumerate(([1], {"command": "numbers", "args": 3},
                                  {"command": "numbers", "args": {"n": 1}, "session": 5}), 3):
            bridge.send_frame(REQUEST, i, body, STREAM)
            kind, flags, frame_id, err = bridge.recv_frame()
            self.assertEqual((kind, flags, frame_id, err["code"]), (END, ERROR, i, "InvalidArgument"))
        # Still serving.
        self.assertEqual(self.stream(bridge, 9, "numbers", n=1), ([0], (0, "done")))

    def test_chunk_that_cannot_be_sent_ends_the_stream(self):
        closed = []

        def gen(ctx, big):
            try:
                yield 1
                yield "x" * 5000 if big else None
                yield 3
            finally:
                closed.append(True)
        bridge = support.InProcessBridge({"gen": gen}, max_frame=4096, streaming=("gen",))
        self.addCleanup(bridge.cleanup)
        chunks, (flags, err) = self.stream(bridge, 1, "gen", big=True)
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([1], ERROR, "ResourceExhausted", "FrameTooLarge"))
        self.assertIn("chunk of 'gen'", err["message"])
        self.assertEqual(closed, [True])
        bridge.send_request(2, "gen", {"big": False}, STREAM)
        self.assertEqual(bridge.recv_stream(2), ([1, None, 3], (0, None)))

    def test_unserializable_end_value(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        chunks, (flags, err) = self.stream(bridge, 1, "numbers", n=1, final=None)
        self.assertEqual(flags, 0)

        def gen(ctx):
            yield 1
            return {1, 2}
        bridge2 = self.start(streaming=("gen",), gen=gen)
        chunks, (flags, err) = self.stream(bridge2, 1, "gen")
        self.assertEqual((chunks, flags, err["code"]), ([1], ERROR, "Internal"))
        self.assertIn("not JSON-serializable", err["message"])

    def test_ping_during_a_stream_is_answered_after_the_end(self):
        def gen(ctx):
            yield 1
            ctx.call("wait")  # the host sends the ping, then replies
            yield 2
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {}, STREAM)
        self.assertEqual(bridge.recv_frame(), (CHUNK, 0, 1, 1))
        self.assertEqual(bridge.recv_frame()[:3], (CALL, 0, 1))
        # While the command waits for a reply a ping is answered at once.
        bridge.send_frame(PING, 77)
        self.assertEqual(bridge.recv_frame(), (PONG, 0, 77, None))
        bridge.send(support.frame(REPLY, 1, b"null") + support.frame(PING, 78))
        self.assertEqual(bridge.recv_frame(), (CHUNK, 0, 1, 2))
        self.assertEqual(bridge.recv_frame(), (END, 0, 1, None))
        self.assertEqual(bridge.recv_frame(), (PONG, 0, 78, None))

    def test_shutdown_during_a_stream_takes_effect_after_the_end(self):
        def gen(ctx):
            yield 1
            ctx.call("wait")
            yield 2
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {}, STREAM)
        bridge.recv_frame()
        bridge.recv_frame()  # the call
        bridge.send(support.frame(SHUTDOWN, 0) + support.frame(REPLY, 1, b"null"))
        self.assertEqual(bridge.recv_stream(1), ([2], (0, None)))
        self.assertEqual(bridge.wait(), 0)
        self.assertTrue(bridge.reader.at_eof())

    def test_end_of_input_during_a_stream_call(self):
        def gen(ctx):
            yield 1
            try:
                ctx.call("wait")
            except BaseException:
                pass  # swallowed: the bridge stops anyway
            yield 2
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {}, STREAM)
        bridge.recv_frame()
        bridge.recv_frame()  # the call
        bridge.close_input()
        self.assertEqual(bridge.wait(), 0)
        self.assertTrue(bridge.reader.at_eof(), "no chunk or end may follow")


class CancelTest(StreamCase):
    def test_cancel_mid_stream(self):
        closed = []

        def endless(ctx):
            try:
                i = 0
                while True:
                    yield i
                    i += 1
            finally:
                closed.append(True)
        bridge = self.start(streaming=("endless",), endless=endless, echo=lambda ctx, x: x)
        bridge.send_request(3, "endless", {}, STREAM)
        for i in range(5):
            self.assertEqual(bridge.recv_frame(), (CHUNK, 0, 3, i))
        bridge.send_frame(CANCEL, 3)
        chunks, end = bridge.recv_stream(3)
        self.assertEqual(end, (ERROR, CANCELLED))
        self.assertEqual(chunks, list(range(5, 5 + len(chunks))))
        self.assertEqual(closed, [True])
        # The cancel frame was only peeked at; the worker serves the next request.
        self.assertEqual(bridge.request(4, "echo", x=[1]), (RESPONSE, 0, 4, [1]))

    def test_cancel_for_another_request_is_ignored(self):
        bridge = self.start(streaming=("numbers",), numbers=numbers)
        bridge.send(support.frame(CANCEL, 99) + support.frame(REQUEST, 1, support.compact(
            {"command": "numbers", "args": {"n": 3}}), STREAM))
        self.assertEqual(bridge.recv_stream(1), ([0, 1, 2], (0, "done")))

    def test_cancel_seen_while_a_stream_waits_for_a_reply(self):
        seen = []

        def gen(ctx):
            yield 1
            seen.append(ctx.call("f"))
            seen.append(ctx.cancelled)
            yield 2
            yield 3
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {}, STREAM)
        bridge.recv_frame()
        bridge.recv_frame()  # the call
        bridge.send(support.frame(CANCEL, 1) + support.frame(REPLY, 1, b'"r"'))
        self.assertEqual(bridge.recv_stream(1), ([2], (ERROR, CANCELLED)))
        self.assertEqual(seen, ["r", True])

    def test_generator_checking_cancelled(self):
        def polite(ctx):
            i = 0
            while not ctx.cancelled:
                yield i
                i += 1
            return {"stopped_at": i}

        bridge = self.start(streaming=("polite",), polite=polite)
        bridge.send_request(1, "polite", {}, STREAM)
        bridge.recv_frame()
        bridge.send_frame(CANCEL, 1)
        chunks, (flags, value) = bridge.recv_stream(1)
        # Either the generator saw it first and returned, or the bridge did.
        if flags:
            self.assertEqual(value, CANCELLED)
        else:
            self.assertEqual(value, {"stopped_at": len(chunks) + 1})

    def test_cancel_of_a_collected_stream(self):
        def endless(ctx):
            while True:
                yield 0
        bridge = self.start(streaming=("endless",), endless=endless)
        bridge.send(support.frame(REQUEST, 1, support.compact({"command": "endless"}))
                    + support.frame(CANCEL, 1))
        kind, flags, frame_id, err = bridge.recv_frame()
        self.assertEqual((kind, flags, frame_id, err["code"]), (RESPONSE, ERROR, 1, "Cancelled"))


class CallsDuringStreamTest(StreamCase):
    def test_calls_between_chunks(self):
        def gen(ctx, n):
            for i in range(n):
                yield ctx.call("square", x=i)
            return ctx.call("done")
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {"n": 3}, STREAM)
        calls = []

        def answer(frame):
            kind, flags, call_id, payload = frame
            if kind != CALL:
                return False
            calls.append((call_id, payload))
            result = payload["args"]["x"] ** 2 if payload["function"] == "square" else "ok"
            bridge.send_frame(REPLY, call_id, support.compact(result))
        self.assertEqual(bridge.recv_stream(1, answer), ([0, 1, 4], (0, "ok")))
        self.assertEqual([c[0] for c in calls], [1, 2, 3, 4])

    def test_host_error_ends_the_stream_with_its_code(self):
        def gen(ctx):
            yield 1
            yield ctx.call("missing")
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {}, STREAM)

        def answer(frame):
            bridge.send_frame(REPLY, frame[2], {"code": "NotFound", "message": "no x",
                                               "details": {"reason": "unknown_function"}},
                              ERROR)
        chunks, (flags, err) = bridge.recv_stream(1, answer)
        self.assertEqual((chunks, flags), ([1], ERROR))
        self.assertEqual((err["code"], err["type"], err["details"]),
                         ("NotFound", "HostCallError", {"reason": "unknown_function"}))


class TypedHostCallErrorTest(StreamCase):
    def test_every_code(self):
        def op(ctx, code):
            try:
                ctx.call("f")
            except sb.HostCallError as exc:
                return {"code": exc.code, "reason": exc.reason, "function": exc.function,
                        "details": exc.details, "message": str(exc),
                        "classes": [name for name in ("InvalidArgument", "NotFound",
                                                      "FailedPrecondition", "Unavailable",
                                                      "ResourceExhausted", "Cancelled",
                                                      "DeadlineExceeded", "SnakepitError")
                                    if isinstance(exc, getattr(sb, name))]}
        bridge = self.start(op=op)
        for i, code in enumerate(sorted(errors.CODES) + ["Bogus"], 1):
            with self.subTest(code):
                bridge.send_request(i, "op", {"code": code})
                self.assertEqual(bridge.recv_frame()[0], CALL)
                bridge.send_frame(REPLY, i, {"code": code, "message": "m",
                                             "details": {"reason": "r"}}, ERROR)
                _, flags, _, result = bridge.recv_frame()
                expected_code = code if code in errors.CODES else "Internal"
                self.assertEqual(flags, 0)
                self.assertEqual((result["code"], result["reason"], result["function"],
                                  result["details"], result["message"]),
                                 (expected_code, "r", "f", {"reason": "r"}, "m"))
                classes = ["SnakepitError"]
                if expected_code != "Internal":
                    classes.insert(0, expected_code)
                self.assertEqual(result["classes"], classes)

    def test_except_the_code_class(self):
        def op(ctx):
            try:
                ctx.call("f")
            except sb.NotFound as exc:
                return ["caught as NotFound", isinstance(exc, sb.HostCallError), exc.reason]
        bridge = self.start(op=op)
        bridge.send_request(1, "op")
        bridge.recv_frame()
        bridge.send_frame(REPLY, 1, {"code": "NotFound", "message": "m",
                                     "details": {"reason": "unknown_function"}}, ERROR)
        self.assertEqual(bridge.recv_frame(),
                         (RESPONSE, 0, 1, ["caught as NotFound", True, "unknown_function"]))

    def test_classes(self):
        cls = errors.host_call_error_class("FailedPrecondition")
        self.assertTrue(issubclass(cls, sb.HostCallError))
        self.assertTrue(issubclass(cls, sb.FailedPrecondition))
        self.assertEqual(cls.__name__, "HostCallError")
        self.assertEqual(cls.__qualname__, "HostCallError[FailedPrecondition]")
        self.assertIs(errors.host_call_error_class("Internal"), sb.HostCallError)
        self.assertIs(errors.host_call_error_class(None), sb.HostCallError)
        exc = cls("m", code="FailedPrecondition", details={"reason": "no_session"},
                  function="session.read")
        self.assertEqual((exc.code, exc.reason, exc.function), ("FailedPrecondition", "no_session",
                                                                "session.read"))
        self.assertEqual(errors.error_from_exception(exc, None)["type"], "HostCallError")


class FunctionsTest(StreamCase):
    LIST = [{"name": "square", "description": "x*x", "scope": "global"},
            {"name": "tag", "description": "", "scope": "session"}]

    def test_functions(self):
        bridge = self.start(fns=lambda ctx: ctx.functions())
        bridge.send_request(1, "fns")
        self.assertEqual(bridge.recv_frame(),
                         (CALL, 0, 1, {"function": "host.functions", "args": {}}))
        bridge.send_frame(REPLY, 1, {"functions": self.LIST})
        self.assertEqual(bridge.recv_frame(), (RESPONSE, 0, 1, self.LIST))

    def test_malformed_reply(self):
        bridge = self.start(fns=lambda ctx: ctx.functions())
        for i, reply in enumerate(([1], {"functions": 5}, {}), 1):
            with self.subTest(reply):
                bridge.send_request(i, "fns")
                bridge.recv_frame()
                bridge.send_frame(REPLY, i, reply)
                kind, flags, _, err = bridge.recv_frame()
                self.assertEqual((kind, flags, err["code"], err["details"]),
                                 (RESPONSE, ERROR, "Internal", {"reason": "bad_reply"}))

    def test_error_reply(self):
        bridge = self.start(fns=lambda ctx: ctx.functions())
        bridge.send_request(1, "fns")
        bridge.recv_frame()
        bridge.send_frame(REPLY, 1, {"code": "Unavailable", "message": "m"}, ERROR)
        self.assertEqual(bridge.recv_frame()[3]["code"], "Unavailable")

    def test_without_calls(self):
        with self.assertRaises(sb.FailedPrecondition):
            sb.Context().functions()


def support_golden():
    import json
    with open(support.GOLDEN, encoding="utf-8") as f:
        return {e["name"]: e for e in json.load(f)}


class GenericStreamingTest(unittest.TestCase):
    """The generic adapter's streaming commands in a real bridge process."""

    def start(self):
        worker = support.NativeWorker()
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.recv_frame()[0], HELLO)
        return worker

    def test_count(self):
        worker = self.start()
        worker.send_request(1, "count", {"n": 3}, STREAM)
        self.assertEqual(worker.recv_stream(1),
                         ([{"i": 0}, {"i": 1}, {"i": 2}], (0, {"count": 3})))
        self.assertEqual(worker.request(2, "count", n=2), (RESPONSE, 0, 2, [{"i": 0}, {"i": 1}]))
        worker.send_request(3, "count", {"n": 2, "delay_ms": 1}, STREAM)
        self.assertEqual(worker.recv_stream(3), ([{"i": 0}, {"i": 1}], (0, {"count": 2})))
        for i, args in enumerate(({"n": -1}, {"n": 10_000_001}, {"n": "3"}, {"n": True},
                                  {"n": 1, "delay_ms": -1}, {"n": 1, "crash_after": "x"}), 10):
            with self.subTest(args):
                worker.send_request(i, "count", args, STREAM)
                self.assertEqual(worker.recv_stream(i)[1][1]["code"], "InvalidArgument")

    def test_count_cancelled_then_next_request(self):
        worker = self.start()
        worker.send_request(1, "count", {"n": 10_000_000}, STREAM)
        self.assertEqual(worker.recv_frame(), (CHUNK, 0, 1, {"i": 0}))
        worker.send_frame(CANCEL, 1)
        chunks, end = worker.recv_stream(1)
        self.assertEqual(end, (ERROR, CANCELLED))
        self.assertLess(len(chunks), 10_000_000 - 1)
        self.assertEqual(worker.request(2, "echo", a=1), (RESPONSE, 0, 2, {"a": 1}))

    def test_count_crash_after(self):
        worker = self.start()
        worker.send_request(1, "count", {"n": 5, "crash_after": 2}, STREAM)
        self.assertEqual(worker.recv_frame(), (CHUNK, 0, 1, {"i": 0}))
        self.assertEqual(worker.recv_frame(), (CHUNK, 0, 1, {"i": 1}))
        self.assertEqual(worker.wait(), 1)
        self.assertTrue(worker.reader.at_eof())

    def test_stream_calls_and_call_host(self):
        worker = self.start()
        worker.send_request(1, "stream_calls", {"n": 3, "function": "square"}, STREAM)

        def answer(frame):
            kind, _, call_id, payload = frame
            if kind != CALL:
                return False
            self.assertEqual(payload["function"], "square")
            worker.send_frame(REPLY, call_id, {"sq": payload["args"]["i"] ** 2})
        self.assertEqual(worker.recv_stream(1, answer),
                         ([{"i": i, "result": {"sq": i * i}} for i in range(3)], (0, None)))

        worker.send_request(2, "call_host", {"function": "tag", "args": {"x": "y"}})
        self.assertEqual(worker.recv_frame()[3], {"function": "tag", "args": {"x": "y"}})
        worker.send_frame(REPLY, 4, ["tagged"])
        self.assertEqual(worker.recv_frame(), (RESPONSE, 0, 2, {"result": ["tagged"]}))

        worker.send_request(3, "call_host", {"function": "nope"})
        self.assertEqual(worker.recv_frame()[3], {"function": "nope", "args": {}})
        worker.send_frame(REPLY, 5, {"code": "NotFound", "message": "no host function 'nope'",
                                     "details": {"reason": "unknown_function"}}, ERROR)
        kind, flags, _, err = worker.recv_frame()
        self.assertEqual((kind, flags, err["code"], err["details"], err["message"]),
                         (RESPONSE, ERROR, "NotFound", {"reason": "unknown_function"},
                          "no host function 'nope'"))

        for i, args in enumerate(({"function": 5}, {"function": ""},
                                  {"function": "f", "args": [1]}), 10):
            with self.subTest(args):
                _, flags, _, err = worker.request(i, "call_host", **args)
                self.assertEqual((flags, err["code"]), (ERROR, "InvalidArgument"))
        _, flags, _, err = worker.request(20, "stream_calls", n=1, function=3)
        self.assertEqual((flags, err["code"]), (ERROR, "InvalidArgument"))


class V0StreamingTest(unittest.TestCase):
    def test_streaming_commands_answer_with_the_list(self):
        import sys
        worker = support.V0Worker([sys.executable, "-m", "snakepit_bridge", "--adapter",
                                   "snakepit_bridge.generic", "--protocol", "snakepit-v0"])
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.request(1, "count", {"n": 2})["result"], [{"i": 0}, {"i": 1}])
        failed = worker.request(2, "stream_bytes", {"n": 1, "size": 1})
        self.assertIs(failed["success"], False)
        self.assertIn("snakepit-v0 cannot carry", failed["error"])
        failed = worker.request(3, "checksum", {"data": "abc"})
        self.assertTrue(failed["error"].startswith("TypeError: data must be bytes"))
        worker.close_input()
        self.assertEqual(worker.wait(), 0)


if __name__ == "__main__":
    unittest.main()
