"""Framing and JSON codec: golden frames, malformed frames, the reader."""

import importlib.util
import json
import os
import threading
import unittest

try:
    from . import support
except ImportError:
    import support

from snakepit_bridge import codec, framing
from snakepit_bridge.framing import FrameReader, ProtocolError


def load_golden():
    with open(support.GOLDEN, encoding="utf-8") as f:
        return json.load(f)


def payload_bytes(entry):
    if entry["payload"] is None:
        return b""
    data = codec.dumps_bytes(entry["payload"])
    if "attachments_hex" in entry:  # BINARY: json_length, JSON, attachments
        return len(data).to_bytes(4, "big") + data + bytes.fromhex(entry["attachments_hex"])
    return data


def with_bytes(value, attachments):
    """``value`` with each {"$bytes": [offset, length]} replaced by bytes."""
    if isinstance(value, dict):
        if list(value) == ["$bytes"]:
            offset, length = value["$bytes"]
            return attachments[offset:offset + length]
        return {k: with_bytes(v, attachments) for k, v in value.items()}
    if isinstance(value, list):
        return [with_bytes(v, attachments) for v in value]
    return value


def decoded_value(entry):
    """What the payload decodes to (byte strings as bytes)."""
    if "attachments_hex" in entry:
        return with_bytes(entry["payload"], bytes.fromhex(entry["attachments_hex"]))
    return entry["payload"]


class GoldenFramesTest(unittest.TestCase):
    def setUp(self):
        self.golden = load_golden()

    def test_expected_frames_present(self):
        names = {e["name"] for e in self.golden}
        for name in ("hello", "request_ping", "response_ok", "response_error", "cancel",
                     "ping", "pong", "shutdown", "request_non_ascii", "request_large_id",
                     "request_session", "call", "reply", "reply_error", "request_stream",
                     "chunk", "end", "end_error", "request_binary", "response_binary",
                     "reply_binary"):
            self.assertIn(name, names)
        by_name = {e["name"]: e for e in self.golden}
        self.assertEqual(by_name["request_large_id"]["id"], 2**40 + 5)
        self.assertEqual(by_name["response_error"]["flags"], framing.FLAG_ERROR)
        self.assertEqual([by_name[n]["kind"] for n in ("call", "reply", "reply_error")],
                         [framing.CALL, framing.REPLY, framing.REPLY])
        self.assertEqual(by_name["reply_error"]["flags"], framing.FLAG_ERROR)
        self.assertEqual(by_name["request_session"]["payload"]["session"], "s-1")
        self.assertEqual([(by_name[n]["kind"], by_name[n]["flags"], by_name[n]["id"])
                          for n in ("request_stream", "chunk", "end", "end_error")],
                         [(framing.REQUEST, framing.FLAG_STREAM, 9), (framing.CHUNK, 0, 9),
                          (framing.END, 0, 9), (framing.END, framing.FLAG_ERROR, 9)])
        self.assertEqual(by_name["end_error"]["payload"],
                         {"code": "Cancelled", "message": "stream cancelled by the host",
                          "type": "Cancelled"})
        for name, kind, frame_id, attachments in (
                ("request_binary", framing.REQUEST, 6, b"abc"),
                ("response_binary", framing.RESPONSE, 6, b"\x00\xff"),
                ("reply_binary", framing.REPLY, 3, b"z")):
            entry = by_name[name]
            self.assertEqual((entry["kind"], entry["flags"], entry["id"]),
                             (kind, framing.FLAG_BINARY, frame_id))
            self.assertEqual(bytes.fromhex(entry["attachments_hex"]), attachments)
        self.assertEqual(decoded_value(by_name["request_binary"]),
                         {"args": {"data": b"abc"}, "command": "checksum"})
        self.assertEqual(decoded_value(by_name["response_binary"]),
                         {"data": b"\x00\xff", "size": 2})
        self.assertEqual(decoded_value(by_name["reply_binary"]), b"z")
        self.assertNotIn("attachments_hex", by_name["response_ok"])

    def test_file_matches_generator(self):
        path = os.path.join(support.FIXTURES, "make_golden_frames.py")
        spec = importlib.util.spec_from_file_location("make_golden_frames", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.assertEqual(module.build(), self.golden,
                         "golden_frames.json is stale: run tests/fixtures/make_golden_frames.py")

    def test_encode_matches_golden_bytes(self):
        for entry in self.golden:
            with self.subTest(entry["name"]):
                data = framing.encode_frame(entry["kind"], entry["flags"], entry["id"],
                                            payload_bytes(entry))
                self.assertEqual(data.hex(), entry["hex"])

    def test_bridge_encoder_matches_golden_bytes(self):
        # The bridge's own encoder (encode_result, write_parts: the path of
        # responses, chunks and end frames) from the decoded value, bytes
        # included; non-empty payloads of every kind.
        from snakepit_bridge.runtime import encode_result, write_parts
        for entry in self.golden:
            if entry["payload"] is None or entry["flags"] & framing.FLAG_ERROR:
                continue
            with self.subTest(entry["name"]):
                ok, data = encode_result("x", decoded_value(entry), 1 << 20)
                self.assertTrue(ok)
                flags = entry["flags"] & ~framing.FLAG_BINARY
                if "attachments_hex" in entry:
                    self.assertIsInstance(data, tuple)
                    r, w = os.pipe()
                    try:
                        write_parts(w, entry["kind"], flags, entry["id"], data)
                        frame = os.read(r, 1 << 16)
                    finally:
                        os.close(r)
                        os.close(w)
                else:
                    self.assertIsInstance(data, bytes)
                    frame = framing.encode_frame(entry["kind"], flags, entry["id"], data)
                self.assertEqual(frame.hex(), entry["hex"])

    def test_decode_matches_golden_fields(self):
        for entry in self.golden:
            with self.subTest(entry["name"]):
                kind, flags, frame_id, payload = framing.decode_frame(
                    bytes.fromhex(entry["hex"]), kinds=None)
                self.assertEqual((kind, flags, frame_id),
                                 (entry["kind"], entry["flags"], entry["id"]))
                if entry["payload"] is None:
                    self.assertEqual(payload, b"")
                elif flags & framing.FLAG_BINARY:
                    value = codec.loads_binary(payload)
                    self.assertEqual(value, decoded_value(entry))
                    text, attachments, size = codec.dumps_with_bytes(value)
                    self.assertEqual(codec.loads(text), entry["payload"])
                    self.assertEqual(b"".join(attachments).hex(), entry["attachments_hex"])
                else:
                    self.assertEqual(codec.loads(payload), entry["payload"])
                    # Compact, key order preserved: re-encoding is byte-identical.
                    self.assertEqual(codec.dumps_bytes(codec.loads(payload)), payload)

    def test_reader_reads_all_golden_frames_back_to_back(self):
        data = b"".join(bytes.fromhex(e["hex"]) for e in self.golden)
        r, w = os.pipe()
        try:
            os.write(w, data)
            os.close(w)
            w = None
            reader = FrameReader(r, kinds=None)
            for entry in self.golden:
                kind, flags, frame_id, payload = reader.read_frame()
                self.assertEqual((kind, flags, frame_id),
                                 (entry["kind"], entry["flags"], entry["id"]))
                self.assertEqual(bytes(payload), payload_bytes(entry))
            self.assertIsNone(reader.read_frame())
        finally:
            os.close(r)
            if w is not None:
                os.close(w)


class CodecTest(unittest.TestCase):
    def test_compact_utf8(self):
        self.assertEqual(codec.dumps_bytes({"a": [1, 2], "b": "\u00e9\U0001f40d"}),
                         '{"a":[1,2],"b":"\u00e9\U0001f40d"}'.encode("utf-8"))

    def test_nan_refused(self):
        with self.assertRaises(ValueError):
            codec.dumps(float("nan"))

    def test_not_serializable(self):
        with self.assertRaises(TypeError):
            codec.dumps({"s": {1, 2}})
        self.assertEqual(codec.dumps({"ok": 1}), '{"ok":1}')

    def test_circular_then_recovers(self):
        a = []
        a.append(a)
        with self.assertRaises(ValueError):
            codec.dumps({"x": a})
        b = [1]
        self.assertEqual(codec.dumps([b, b]), "[[1],[1]]")

    def test_matches_json_module(self):
        # codec binds _json's C scanner and encoder itself; results and error
        # messages must be those of json.loads / json.dumps(separators=(",",
        # ":"), ensure_ascii=False, allow_nan=False).
        def std_dumps(value):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)
        a = []
        a.append(a)
        values = [None, True, 0, -1.5e300, 2 ** 70, "\u00e9\n\"\x00", [1, {"k": []}],
                  {"b": 1, "a": 2}, {1: 2}, {None: 1}, {(1,): 2}, {1, 2}, float("nan"),
                  float("-inf"), b"x", a]
        for value in values:
            with self.subTest(value=value):
                try:
                    expected = std_dumps(value)
                except (TypeError, ValueError) as exc:
                    expected = (type(exc), str(exc))
                try:
                    got = codec.dumps(value)
                except (TypeError, ValueError) as exc:
                    got = (type(exc), str(exc))
                self.assertEqual(got, expected)
        docs = ['{"a":[1,2.5,-3e2,true,false,null],"b":"\\u00e9\\ud83d\\udc0d"}',
                "NaN", "-Infinity", "[Infinity]", '"x"', "123456789012345678901234567890",
                '{"a":1,"a":2}', " [] ", "{}", "[1,]", '{"a" 1}', "tru", '"\\x"', "01"]
        for doc in docs:
            with self.subTest(doc=doc):
                try:
                    expected = repr(json.loads(doc))
                except ValueError as exc:
                    expected = (type(exc), str(exc))
                try:
                    got = repr(codec.loads(doc.encode("utf-8")))
                except ValueError as exc:
                    got = (type(exc), str(exc))
                self.assertEqual(got, expected)

    def test_loads_variants(self):
        self.assertEqual(codec.loads(b'{"a":1}'), {"a": 1})
        self.assertEqual(codec.loads(bytearray(b' {"a":1} \n')), {"a": 1})
        self.assertEqual(codec.loads("[1]"), [1])
        for bad in (b"", b"{", b'{"a":1} x', b"\xff\xfe", b"nul"):
            with self.subTest(bad), self.assertRaises(ValueError):
                codec.loads(bad)


class MalformedFrameTest(unittest.TestCase):
    def read_one(self, data, max_frame=framing.DEFAULT_MAX_FRAME):
        r, w = os.pipe()
        try:
            os.write(w, data)
            os.close(w)
            w = None
            return FrameReader(r, max_frame).read_frame()
        finally:
            os.close(r)
            if w is not None:
                os.close(w)

    def test_rejected(self):
        hdr = framing.HEADER.pack
        cases = {
            "length below 12": hdr(11, framing.PING, 0, 0, 1),
            "length 0": b"\x00\x00\x00\x00",
            "above max": hdr(1000, framing.REQUEST, 0, 0, 1),
            "huge": b"\xff\xff\xff\xff" + bytes(12),
            "unknown kind": hdr(12, 99, 0, 0, 1),
            "kind 0": hdr(12, 0, 0, 0, 1),
            "worker-to-host kind": hdr(12, framing.PONG, 0, 0, 1),
            "unknown flag": hdr(12, framing.PING, 0x08, 0, 1),
            "error and binary": hdr(12, framing.PING, 0x03, 0, 1),
        }
        for name, data in cases.items():
            with self.subTest(name), self.assertRaises(ProtocolError):
                self.read_one(data, max_frame=512)

    def test_reserved_ignored(self):
        data = framing.HEADER.pack(12, framing.PING, 0, 0xBEEF, 9)
        self.assertEqual(self.read_one(data)[:3], (framing.PING, 0, 9))

    def test_eof_mid_frame_is_eof(self):
        self.assertIsNone(self.read_one(framing.encode_frame(framing.REQUEST, 1, 0, b"{}")[:-1]))
        self.assertIsNone(self.read_one(b"\x00\x00"))

    def test_decode_frame_checks_length(self):
        data = framing.encode_frame(framing.REQUEST, 0, 1, b"{}")
        with self.assertRaises(ProtocolError):
            framing.decode_frame(data + b"x")
        with self.assertRaises(ProtocolError):
            framing.decode_frame(data[:3])


class ReaderTest(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        self.reader = FrameReader(self.r)

    def tearDown(self):
        os.close(self.r)
        if self.w is not None:
            os.close(self.w)

    def write_in_thread(self, data, chunk=None):
        def run():
            view = memoryview(data)
            while view:
                part = view[:chunk] if chunk else view
                n = os.write(self.w, part)
                view = view[n:]
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def test_large_frame(self):
        payload = codec.dumps_bytes({"command": "echo", "args": {"blob": "x" * 3_000_000}})
        thread = self.write_in_thread(framing.encode_frame(framing.REQUEST, 0, 5, payload)
                                      + framing.encode_frame(framing.PING, 0, 6))
        kind, _, frame_id, got = self.reader.read_frame()
        thread.join()
        self.assertEqual((kind, frame_id), (framing.REQUEST, 5))
        self.assertEqual(bytes(got), payload)
        self.assertEqual(self.reader.read_frame()[:3], (framing.PING, 0, 6))

    def test_frames_split_across_reads(self):
        data = b"".join(framing.encode_frame(framing.REQUEST, 0, i, b'{"command":"x"}')
                        for i in range(1, 40))
        thread = self.write_in_thread(data, chunk=7)
        ids = [self.reader.read_frame()[2] for _ in range(1, 40)]
        thread.join()
        self.assertEqual(ids, list(range(1, 40)))

    def test_poll_and_buffered_frames(self):
        self.assertEqual(self.reader.buffered_frames(), [])
        self.assertTrue(self.reader.poll())  # nothing to read: no block
        os.write(self.w, framing.encode_frame(framing.CANCEL, 0, 7)
                 + framing.encode_frame(framing.PING, 0, 8))
        self.assertTrue(self.reader.poll())
        self.assertEqual(self.reader.buffered_frames(),
                         [(framing.CANCEL, 7), (framing.PING, 8)])
        # Peeking does not consume.
        self.assertEqual(self.reader.read_frame()[:3], (framing.CANCEL, 0, 7))
        self.assertEqual(self.reader.read_frame()[:3], (framing.PING, 0, 8))
        os.close(self.w)
        self.w = None
        self.assertFalse(self.reader.poll())
        self.assertIsNone(self.reader.read_frame())


if __name__ == "__main__":
    unittest.main()
