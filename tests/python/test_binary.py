"""Byte strings (docs/protocol.md, "Binary payloads"): frames with the
BINARY flag carry JSON with {"$bytes": [offset, length]} placeholders and
the bytes after it.
"""

import array
import hashlib
import os
import struct
import threading
import unittest

try:
    from . import support
except ImportError:
    import support

from snakepit_bridge import codec, framing
from snakepit_bridge.codec import BinaryPayloadError, HasBytes
from snakepit_bridge.framing import ProtocolError

REQUEST, RESPONSE, CALL, REPLY = support.REQUEST, support.RESPONSE, support.CALL, support.REPLY
CHUNK, END, HELLO, PING, PONG = support.CHUNK, support.END, support.HELLO, support.PING, support.PONG
ERROR, BINARY, STREAM = support.ERROR, support.BINARY, support.STREAM

MiB = 1024 * 1024


def raw_payload(text, attachments=b""):
    """A BINARY payload from JSON text and attachment bytes, as given."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack(">I", len(data)) + data + attachments


def sha(data):
    return hashlib.sha256(data).hexdigest()


def pattern(size, seed=0):
    """``size`` bytes that are not all alike."""
    block = bytes((i * 7 + seed) % 256 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


class LoadsBinaryTest(unittest.TestCase):
    def test_placeholders_anywhere(self):
        payload = raw_payload('{"a":{"$bytes":[0,3]},"b":[{"$bytes":[3,0]},{"$bytes":[1,4]}],'
                              '"c":{"d":{"$bytes":[0,5]}},"e":"$bytes"}', b"hello")
        self.assertEqual(codec.loads_binary(payload),
                         {"a": b"hel", "b": [b"", b"ello"], "c": {"d": b"hello"}, "e": "$bytes"})
        self.assertEqual(codec.loads_binary(raw_payload('{"$bytes":[0,1]}', b"z")), b"z")
        for kind in (bytes, bytearray, memoryview):
            value = codec.loads_binary(kind(raw_payload('[{"$bytes":[2,2]}]', b"abcd")))
            self.assertEqual(value, [b"cd"])
            self.assertIs(type(value[0]), bytes)

    def test_no_placeholders_and_surrounding_whitespace(self):
        self.assertEqual(codec.loads_binary(raw_payload('{"a":1}', b"unused")), {"a": 1})
        self.assertEqual(codec.loads_binary(raw_payload(' [{"$bytes":[0,1]}] ', b"q")), [b"q"])
        self.assertEqual(codec.loads_binary(raw_payload("\u00e9".join('""'))), "\u00e9")

    def test_other_objects_with_the_key_are_ordinary(self):
        # Exactly one key makes a placeholder (as in the host).
        self.assertEqual(codec.loads_binary(raw_payload('{"$bytes":[0,1],"x":1}', b"z")),
                         {"$bytes": [0, 1], "x": 1})
        # Without BINARY it is all ordinary JSON.
        self.assertEqual(codec.loads('{"$bytes":[0,1]}'), {"$bytes": [0, 1]})

    def test_malformed(self):
        cases = {
            "no json length": b"\x00\x00\x01",
            "empty": b"",
            "json length beyond payload": struct.pack(">I", 10) + b"[1]",
            "string": raw_payload('{"$bytes":"abc"}', b"abc"),
            "one number": raw_payload('{"$bytes":[0]}', b"abc"),
            "three numbers": raw_payload('{"$bytes":[0,1,2]}', b"abc"),
            "negative offset": raw_payload('{"$bytes":[-1,1]}', b"abc"),
            "negative length": raw_payload('{"$bytes":[0,-1]}', b"abc"),
            "float": raw_payload('{"$bytes":[0,1.0]}', b"abc"),
            "bool": raw_payload('{"$bytes":[true,1]}', b"abc"),
            "null": raw_payload('{"$bytes":null}', b"abc"),
            "beyond": raw_payload('{"$bytes":[1,3]}', b"abc"),
            "offset beyond": raw_payload('{"$bytes":[4,0]}', b"abc"),
            "huge": raw_payload('{"$bytes":[0,18446744073709551616]}', b"abc"),
            "nested bad": raw_payload('[1,{"a":[{"$bytes":[2,2]}]}]', b"abc"),
        }
        for name, payload in cases.items():
            with self.subTest(name), self.assertRaises(BinaryPayloadError):
                codec.loads_binary(payload)
        for bad_json in (b"{", b"[1,]", b'"\xff"', b""):
            with self.subTest(bad_json), self.assertRaises(ValueError):
                codec.loads_binary(raw_payload(bad_json))


class DumpsWithBytesTest(unittest.TestCase):
    def test_no_bytes_no_change(self):
        value = {"a": [1, "\u00e9", None], "b": {"c": True}}
        self.assertEqual(codec.dumps_result(value), codec.dumps(value))
        with self.assertRaises(HasBytes):
            codec.dumps_result({"a": [1, b"x"]})
        with self.assertRaises(TypeError):  # other objects as before
            codec.dumps_result({"a": {1, 2}})
        # The plain dumps is unchanged: bytes are not JSON.
        with self.assertRaises(TypeError):
            codec.dumps(b"x")
        self.assertEqual(codec.dumps_result([1]), "[1]")  # usable after HasBytes

    def test_placeholders(self):
        data = bytearray(b"xy")
        text, attachments, size = codec.dumps_with_bytes(
            {"a": b"abc", "b": [data, memoryview(b"")], "c": {"d": memoryview(b"12345")[1:3]}})
        self.assertEqual(text, '{"a":{"$bytes":[0,3]},"b":[{"$bytes":[3,2]},{"$bytes":[5,0]}],'
                               '"c":{"d":{"$bytes":[5,2]}}}')
        self.assertEqual(b"".join(attachments), b"abcxy23")
        self.assertEqual(size, 7)
        self.assertIs(attachments[1], data)  # not copied
        self.assertEqual(codec.dumps_with_bytes(b"z"), ('{"$bytes":[0,1]}', [b"z"], 1))

    def test_memoryview_layouts(self):
        ints = array.array("i", [1, 2, 3])
        text, attachments, size = codec.dumps_with_bytes([memoryview(ints),
                                                          memoryview(b"abcdef")[::2]])
        self.assertEqual(size, ints.itemsize * 3 + 3)
        self.assertEqual(b"".join(bytes(a) for a in attachments), ints.tobytes() + b"ace")
        self.assertEqual(codec.loads_binary(raw_payload(text, b"".join(attachments))),
                         [ints.tobytes(), b"ace"])

    def test_objects_with_the_placeholder_key(self):
        with self.assertRaises(ValueError):
            codec.dumps_with_bytes({"a": b"x", "b": {"$bytes": [0, 1]}})
        with self.assertRaises(ValueError):
            codec.dumps_with_bytes([b"x", [{"$bytes": 5}]])
        # More keys: ordinary for the receiver too.
        text, _, _ = codec.dumps_with_bytes([b"x", {"$bytes": 5, "y": 1}])
        self.assertEqual(codec.loads_binary(raw_payload(text, b"x")),
                         [b"x", {"$bytes": 5, "y": 1}])
        # A key that only looks like it.
        text, _, _ = codec.dumps_with_bytes([b"x", {'a"$bytes': 1}])
        self.assertEqual(codec.loads_binary(raw_payload(text, b"x")), [b"x", {'a"$bytes': 1}])

    def test_errors_like_dumps(self):
        for bad in ({"a": b"x", "b": {1, 2}}, [b"x", float("nan")]):
            with self.subTest(bad), self.assertRaises((TypeError, ValueError)):
                codec.dumps_with_bytes(bad)
        a = [b"x"]
        a.append(a)
        with self.assertRaises(ValueError):
            codec.dumps_with_bytes(a)
        b = b"same"
        text, attachments, _ = codec.dumps_with_bytes([b, b])  # not circular
        self.assertEqual(text, '[{"$bytes":[0,4]},{"$bytes":[4,4]}]')


class WritevTest(unittest.TestCase):
    def test_partial_writes(self):
        written = []

        def writev(fd, buffers):
            data = b"".join(bytes(b) for b in buffers)[:7]
            written.append(data)
            return len(data)
        buffers = [b"header", bytearray(b""), memoryview(b"0123456789abcdef"), b"x" * 20]
        framing.writev_all(99, buffers, _writev=writev)
        self.assertEqual(b"".join(written), b"header0123456789abcdef" + b"x" * 20)
        self.assertEqual(buffers[0], b"header")  # the caller's list is left alone

    def test_many_buffers(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        buffers = [bytes([i % 256]) for i in range(5000)]
        framing.writev_all(w, buffers)
        got = b""
        while len(got) < 5000:
            got += os.read(r, 1 << 16)
        self.assertEqual(got, b"".join(buffers))

    def test_flags(self):
        self.assertEqual((framing.FLAG_BINARY, framing.FLAG_STREAM), (0x02, 0x04))
        for flags in (0, 1, 2, 4, 5, 6):
            framing.decode_frame(framing.encode_frame(framing.END, flags, 1), kinds=None)
        for flags in (3, 7, 8, 0x80):
            with self.subTest(flags), self.assertRaises(ProtocolError):
                framing.decode_frame(framing.encode_frame(framing.END, flags, 1), kinds=None)


class InProcessBinaryTest(unittest.TestCase):
    def start(self, max_frame=1 << 20, streaming=(), **commands):
        bridge = support.InProcessBridge(commands, max_frame=max_frame, streaming=streaming)
        self.addCleanup(bridge.cleanup)
        return bridge

    def test_request_and_response(self):
        bridge = self.start(echo=lambda ctx, **args: args)
        value = {"a": b"\x00\x01", "b": [b"", "text", {"c": b"\xff" * 300}]}
        bridge.send(support.binary_frame(REQUEST, 1, {"command": "echo", "args": value}))
        raw = bridge.recv_raw()
        self.assertEqual(raw[5], BINARY)
        self.assertEqual(support.decode_binary_payload(raw[16:]), value)
        # The bridge's frame: JSON with placeholders in order, then the bytes.
        (json_length,) = struct.unpack_from(">I", raw, 16)
        self.assertEqual(raw[20:20 + json_length],
                         b'{"a":{"$bytes":[0,2]},"b":[{"$bytes":[2,0]},"text",'
                         b'{"c":{"$bytes":[2,300]}}]}')
        self.assertEqual(raw[20 + json_length:], b"\x00\x01" + b"\xff" * 300)
        # Without bytes: no BINARY, even for a BINARY request.
        bridge.send(support.binary_frame(REQUEST, 2, {"command": "echo", "args": {"n": 1}}))
        self.assertEqual(bridge.recv_frame(), (RESPONSE, 0, 2, {"n": 1}))
        # Without BINARY "$bytes" objects are plain JSON.
        self.assertEqual(bridge.request(3, "echo", x={"$bytes": [0, 1]}),
                         (RESPONSE, 0, 3, {"x": {"$bytes": [0, 1]}}))

    def test_golden_binary_frames(self):
        golden = support_golden()
        bridge = self.start(checksum=lambda ctx, data: {"data": b"\x00\xff", "size": 2}
                            if data == b"abc" else None)
        bridge.send(bytes.fromhex(golden["request_binary"]["hex"]))
        self.assertEqual(bridge.recv_raw().hex(), golden["response_binary"]["hex"])

    def test_result_with_bytes_too_large(self):
        bridge = self.start(max_frame=4096, blob=lambda ctx, n: {"b": b"x" * n})
        self.assertEqual(bridge.request(1, "blob", n=4096 - 12 - 4 - len('{"b":{"$bytes":[0,4060]}}')),
                         (RESPONSE, BINARY, 1, {"b": b"x" * 4055}))
        kind, flags, _, err = bridge.request(2, "blob", n=4060)
        self.assertEqual((kind, flags, err["code"], err["type"]),
                         (RESPONSE, ERROR, "ResourceExhausted", "FrameTooLarge"))

    def test_unencodable_results_with_bytes(self):
        bridge = self.start(bad=lambda ctx: [b"x", {"$bytes": [0, 1]}], bad2=lambda ctx: [b"x", {1}])
        for i, name in enumerate(("bad", "bad2"), 1):
            kind, flags, _, err = bridge.request(i, name)
            self.assertEqual((kind, flags, err["code"]), (RESPONSE, ERROR, "Internal"))
            self.assertIn("not JSON-serializable", err["message"])

    def test_stream_of_bytes(self):
        def gen(ctx, n):
            for i in range(n):
                yield {"i": i, "data": bytes([i]) * i}
            return b"end"
        bridge = self.start(streaming=("gen",), gen=gen)
        bridge.send_request(1, "gen", {"n": 3}, STREAM)
        frames = [bridge.recv_frame() for _ in range(4)]
        self.assertEqual(frames, [(CHUNK, BINARY, 1, {"i": i, "data": bytes([i]) * i})
                                  for i in range(3)] + [(END, BINARY, 1, b"end")])

    def test_calls_with_bytes_both_ways(self):
        bridge = self.start(op=lambda ctx, data: ctx.call("f", data=data, more=[bytearray(b"!")]))
        bridge.send(support.binary_frame(REQUEST, 1, {"command": "op", "args": {"data": b"\x01\x02"}}))
        kind, flags, call_id, payload = bridge.recv_frame()
        self.assertEqual((kind, flags, call_id), (CALL, BINARY, 1))
        self.assertEqual(payload, {"args": {"data": b"\x01\x02", "more": [b"!"]}, "function": "f"})
        bridge.send(support.binary_frame(REPLY, 1, {"echo": [b"", b"\x00" * 70000]}))
        self.assertEqual(bridge.recv_frame(), (RESPONSE, BINARY, 1, {"echo": [b"", b"\x00" * 70000]}))

    def test_call_with_bytes_too_large(self):
        bridge = self.start(max_frame=4096, op=lambda ctx: ctx.call("f", data=b"x" * 5000))
        kind, flags, _, err = bridge.request(1, "op")
        self.assertEqual((kind, flags, err["code"], err["details"]),
                         (RESPONSE, ERROR, "ResourceExhausted", {"reason": "call_too_large"}))

    def test_bad_binary_reply_is_a_protocol_error(self):
        for name, data in (
                ("out of range", support.frame(REPLY, 1, raw_payload('{"$bytes":[0,9]}', b"x"),
                                               BINARY)),
                ("error and binary", support.frame(REPLY, 1, raw_payload('{"code":"x"}'),
                                                   BINARY | ERROR))):
            with self.subTest(name):
                bridge = self.start(op=lambda ctx: ctx.call("f"))
                bridge.send_request(1, "op")
                bridge.recv_frame()
                bridge.send(data)
                with self.assertRaises(ProtocolError):
                    bridge.wait()
                self.assertTrue(bridge.reader.at_eof())

    def test_bad_binary_request_is_a_protocol_error(self):
        bridge = self.start(op=lambda ctx, **a: 1)
        bridge.send(support.frame(REQUEST, 1, raw_payload('{"command":"op","args":{"d":'
                                                          '{"$bytes":[0,2]}}}', b"x"), BINARY))
        with self.assertRaises(ProtocolError) as cm:
            bridge.wait()
        self.assertIn("bad binary payload", str(cm.exception))


def support_golden():
    import json
    with open(support.GOLDEN, encoding="utf-8") as f:
        return {e["name"]: e for e in json.load(f)}


class GenericBinaryTest(unittest.TestCase):
    """checksum, transform and stream_bytes in a real bridge process."""

    def start(self, **env):
        worker = support.NativeWorker(env=env)
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.recv_frame()[0], HELLO)
        return worker

    def send_in_thread(self, worker, data):
        # A large request fills the pipe before the worker reads it.
        thread = threading.Thread(target=worker.send, args=(data,))
        thread.start()
        self.addCleanup(thread.join)
        return thread

    def test_checksum_sizes(self):
        worker = self.start()
        for i, size in enumerate((0, 1, MiB, 32 * MiB), 1):
            with self.subTest(size=size):
                data = pattern(size, i)
                thread = self.send_in_thread(worker, support.binary_frame(
                    REQUEST, i, {"command": "checksum", "args": {"data": data}}))
                self.assertEqual(worker.recv_frame(),
                                 (RESPONSE, 0, i, {"size": size, "sha256": sha(data)}))
                thread.join()

    def test_transform_round_trips(self):
        worker = self.start()
        request_id = 0
        for size in (0, 1, MiB, 32 * MiB):
            data = pattern(size, size % 251)
            ops = ("reverse", "invert", "identity") if size <= MiB else ("invert",)
            for op in ops:
                request_id += 1
                with self.subTest(size=size, op=op):
                    expected = {"reverse": data[::-1], "identity": data,
                                "invert": bytes(b ^ 0xFF for b in data[:4096])}[op]
                    thread = self.send_in_thread(worker, support.binary_frame(
                        REQUEST, request_id, {"command": "transform",
                                              "args": {"data": data, "op": op}}))
                    kind, flags, frame_id, result = worker.recv_frame()
                    thread.join()
                    self.assertEqual((kind, flags, frame_id), (RESPONSE, BINARY, request_id))
                    self.assertEqual(result["size"], size)
                    self.assertEqual(result["sha256"], sha(result["data"]))
                    if op == "invert":
                        self.assertEqual(result["data"][:4096], expected)
                        self.assertEqual(bytes(b ^ 0xFF for b in result["data"][-4096:]),
                                         data[-4096:])
                        self.assertEqual(len(result["data"]), size)
                    else:
                        self.assertEqual(result["data"], expected)

    def test_transform_and_checksum_errors(self):
        worker = self.start()
        for i, (command, args) in enumerate((("checksum", {"data": "abc"}),
                                             ("checksum", {"data": [1, 2]}),
                                             ("transform", {"data": 5}),
                                             ("transform", {"data": b"x", "op": "rot13"}),
                                             ("transform", {"data": b"x", "op": None})), 1):
            with self.subTest(command=command, args=args):
                worker.send_request(i, command, args)
                kind, flags, _, err = worker.recv_frame()
                self.assertEqual((kind, flags, err["code"]), (RESPONSE, ERROR, "InvalidArgument"))

    def test_stream_bytes(self):
        worker = self.start()
        worker.send_request(1, "stream_bytes", {"n": 3, "size": 5}, STREAM)
        self.assertEqual(worker.recv_stream(1),
                         ([bytes([i]) * 5 for i in range(3)], (0, {"chunks": 3, "bytes": 15})))
        worker.send_request(2, "stream_bytes", {"n": 300, "size": 1}, STREAM)
        chunks, end = worker.recv_stream(2)
        self.assertEqual(chunks, [bytes([i % 256]) for i in range(300)])
        self.assertEqual(end, (0, {"chunks": 300, "bytes": 300}))
        # Without STREAM: one BINARY response with the list.
        self.assertEqual(worker.request(3, "stream_bytes", n=2, size=MiB),
                         (RESPONSE, BINARY, 3, [bytes(MiB), b"\x01" * MiB]))
        for i, args in enumerate(({"n": 1, "size": 64 * MiB + 1}, {"n": 1, "size": -1},
                                  {"n": 1.5, "size": 1}), 10):
            with self.subTest(args):
                worker.send_request(i, "stream_bytes", args, STREAM)
                self.assertEqual(worker.recv_stream(i)[1][1]["code"], "InvalidArgument")

    def test_chunk_too_large(self):
        worker = self.start(SNAKEPIT_MAX_FRAME=MiB)
        worker.send_request(1, "stream_bytes", {"n": 3, "size": MiB - 10}, STREAM)
        chunks, (flags, err) = worker.recv_stream(1)
        self.assertEqual((chunks, flags, err["code"], err["type"]),
                         ([], ERROR, "ResourceExhausted", "FrameTooLarge"))
        self.assertEqual(worker.request(2, "echo", a=1), (RESPONSE, 0, 2, {"a": 1}))

    def check_protocol_error(self, data):
        worker = self.start()
        worker.send(data)
        self.assertEqual(worker.wait(), 3)
        self.assertIn(b"protocol error", worker.stderr)
        return worker.stderr

    def test_malformed_binary_frames(self):
        def request(text, attachments=b"", flags=BINARY):
            return support.frame(REQUEST, 1, raw_payload(text, attachments), flags)
        ok = '{"command":"checksum","args":{"data":%s}}'
        cases = {
            "short payload": support.frame(REQUEST, 1, b"\x00\x00", BINARY),
            "json length beyond": support.frame(REQUEST, 1, struct.pack(">I", 99) + b"{}", BINARY),
            "range beyond": request(ok % '{"$bytes":[0,4]}', b"abc"),
            "offset beyond": request(ok % '{"$bytes":[4,0]}', b"abc"),
            "negative": request(ok % '{"$bytes":[-1,1]}', b"abc"),
            "not a pair": request(ok % '{"$bytes":[0]}', b"abc"),
            "not ints": request(ok % '{"$bytes":["0","1"]}', b"abc"),
            "bad json": request('{"command":', b"abc"),
            "bad utf-8": request(b'{"command":"\xff"}'),
            "error and binary": request(ok % '{"$bytes":[0,3]}', b"abc", BINARY | ERROR),
            "stream, range beyond": request(ok % '{"$bytes":[0,4]}', b"abc", BINARY | STREAM),
        }
        for name, data in cases.items():
            with self.subTest(name):
                self.check_protocol_error(data)


if __name__ == "__main__":
    unittest.main()
