"""The bridge's fast paths give the same results as its general ones:
requests without flags (NativeBridge._request_handler against
_handle_request), large frames read straight into their final objects
(FrameReader._read_large, framing.SplitPayload, codec.loads_binary), and no
garbage-collector passes while serving plain requests."""

import gc
import os
import struct
import threading
import unittest

try:
    from . import support
except ImportError:
    import support

from snakepit_bridge import codec, framing
from snakepit_bridge.context import BridgeState
from snakepit_bridge.framing import FrameReader, ProtocolError, SplitPayload
from snakepit_bridge.registry import Adapter, Command
from snakepit_bridge.runtime import NativeBridge

REQUEST, PING, BINARY = support.REQUEST, support.PING, support.BINARY
MiB = 1 << 20


def binary_request(frame_id, text, attachments):
    data = text.encode("utf-8")
    return framing.encode_frame(REQUEST, BINARY, frame_id,
                                struct.pack(">I", len(data)) + data + attachments)


def cyclic():
    items = [1]
    items.append(items)
    return items


class FastRequestPathTest(unittest.TestCase):
    """Every request goes through the fast handler and through the general
    path (_handle_request); the frames written must be identical."""

    COMMANDS = {
        "ok": lambda ctx, **a: {"a": a, "s": "\u00e9", "f": 1.5, "n": None},
        "none": lambda ctx: None,
        "args": lambda ctx, x, y=2: [x, y],
        "cycle": lambda ctx: cyclic(),
        "nan": lambda ctx: [float("nan")],
        "set": lambda ctx: {"s": {1, 2}},
        "surrogate": lambda ctx: "\udc80",
        "bytes": lambda ctx: {"b": [b"xy", bytearray(b"z"), memoryview(b"w")]},
        "placeholder": lambda ctx: [b"x", {"$bytes": [0, 1]}],
        "large": lambda ctx: "x" * 5000,
        "raises": lambda ctx: 1 / 0,
        "session": lambda ctx: ctx.session_id,
    }

    def setUp(self):
        adapter = Adapter("t", {n: Command(n, f) for n, f in self.COMMANDS.items()})
        self.r, self.w = os.pipe()
        self.addCleanup(os.close, self.r)
        self.addCleanup(os.close, self.w)
        self.bridge = NativeBridge(adapter, BridgeState(adapter, worker_id="t-0"),
                                   0, self.w, 4096)
        self.fast = self.bridge._request_handler()
        self.reader = support.PipeReader(self.r)

    def frame(self):
        head = self.reader.read_exact(16)
        return head + self.reader.read_exact(struct.unpack(">I", head[:4])[0] - 12)

    def both(self, payload):
        """(fast frame, general frame), or the ProtocolError texts."""
        out = []
        for handle in (self.fast, self.bridge._handle_request):
            try:
                handle(7, payload)
            except ProtocolError as exc:
                out.append(("ProtocolError", str(exc)))
            else:
                out.append(self.frame())
        return out

    def test_same_frames(self):
        payloads = [support.compact({"command": name, "args": {}}) for name in self.COMMANDS]
        payloads += [
            b'{"command":"ok","args":{"k":[1,{"z":null}]}}',
            b'{"command":"ok"}',
            b'{"command":"args","args":{"x":1}}',
            b'{"command":"args","args":{"y":1}}',
            b'{"command":"args","args":{"x":1,"q":2}}',
            b'{"command":"args","args":{"ctx":1,"x":2}}',
            b'{"command":"nope","args":{}}',
            b'{"command":5,"args":{}}',
            b'{"command":["x"],"args":{}}',
            b'{"command":"ok","args":[1]}',
            b'{"command":"ok","args":null}',
            b'{"command":"session","session":"s-1"}',
            b'{"command":"session","session":7}',
            b' {"command":"ok"} ',
            b'[1, 2]',
            b'"text"',
            b'{"command":"ok"',
            b'{"command":"ok"}x',
            b'\xff{}',
            b'',
        ]
        protocol_errors = 0
        for payload in payloads:
            with self.subTest(payload=payload):
                fast, general = self.both(payload)
                self.assertEqual(fast, general)
                protocol_errors += fast[0] == "ProtocolError"
        self.assertEqual(protocol_errors, 4)
        self.assertEqual(self.bridge.state.requests, 2 * (len(payloads) - protocol_errors))

    def test_error_frames_are_errors(self):
        for name, code in (("cycle", "Internal"), ("nan", "Internal"), ("set", "Internal"),
                           ("large", "ResourceExhausted"), ("raises", "Internal"),
                           ("placeholder", "Internal")):
            with self.subTest(name):
                fast, _ = self.both(support.compact({"command": name}))
                _, flags, _, payload = framing.decode_frame(fast, kinds=None)
                self.assertEqual(flags, framing.FLAG_ERROR)
                self.assertEqual(codec.loads(payload)["code"], code)

    def test_bytes_result(self):
        fast, _ = self.both(b'{"command":"bytes"}')
        _, flags, _, payload = framing.decode_frame(fast, kinds=None)
        self.assertEqual(flags, BINARY)
        self.assertEqual(codec.loads_binary(payload), {"b": [b"xy", b"z", b"w"]})


class LargeFrameTest(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        self.reader = FrameReader(self.r)

    def tearDown(self):
        os.close(self.r)
        if self.w is not None:
            os.close(self.w)

    def feed(self, data, close=False):
        fd = self.w

        def run():
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if close:
                os.close(fd)
        thread = threading.Thread(target=run)
        thread.start()
        self.addCleanup(thread.join)
        if close:
            self.w = None

    def test_one_attachment_is_handed_on_as_read(self):
        blob = bytes(range(256)) * (3 * MiB // 256)
        self.feed(binary_request(5, '{"command":"c","args":{"d":{"$bytes":[0,%d]}}}'
                                 % len(blob), blob) + framing.encode_frame(PING, 0, 6))
        kind, flags, frame_id, payload = self.reader.read_frame()
        self.assertEqual((kind, flags, frame_id), (REQUEST, BINARY, 5))
        self.assertIsInstance(payload, SplitPayload)
        self.assertEqual(len(payload), 4 + len(payload.head) - 4 + len(blob))
        value = codec.loads_binary(payload)
        self.assertIs(value["args"]["d"], payload.tail)
        self.assertIs(type(value["args"]["d"]), bytes)
        self.assertEqual(value["args"]["d"], blob)
        self.assertEqual(self.reader.read_frame()[:3], (PING, 0, 6))

    def test_several_attachments(self):
        a, b = b"a" * (MiB + 3), b"b" * 70000
        text = ('[{"$bytes":[0,%d]},{"$bytes":[%d,%d]},{"$bytes":[1,2]},{"$bytes":[0,0]}]'
                % (len(a), len(a), len(b)))
        data = text.encode()
        payload_bytes = struct.pack(">I", len(data)) + data + a + b
        self.feed(framing.encode_frame(REQUEST, BINARY, 1, payload_bytes))
        payload = self.reader.read_frame()[3]
        self.assertEqual(bytes(payload), payload_bytes)
        self.assertEqual(codec.loads_binary(payload), [a, b, b"aa", b""])
        self.assertEqual(codec.loads_binary(payload_bytes), [a, b, b"aa", b""])

    def test_after_buffered_frames(self):
        # The large frame starts in a read that also brought smaller frames:
        # it is finished from the reader's buffer.
        blob = os.urandom(2 * MiB)
        self.feed(framing.encode_frame(PING, 0, 1) + framing.encode_frame(PING, 0, 2)
                  + binary_request(3, '{"$bytes":[0,%d]}' % len(blob), blob))
        self.assertEqual(self.reader.read_frame()[:3], (PING, 0, 1))
        self.assertEqual(self.reader.read_frame()[:3], (PING, 0, 2))
        kind, _, frame_id, payload = self.reader.read_frame()
        self.assertEqual((kind, frame_id), (REQUEST, 3))
        self.assertEqual(codec.loads_binary(payload), blob)

    def test_large_json_frame(self):
        payload = support.compact({"command": "echo", "args": {"s": "\u00e9" * MiB}})
        self.feed(framing.encode_frame(REQUEST, 0, 9, payload))
        kind, flags, frame_id, got = self.reader.read_frame()
        self.assertEqual((kind, flags, frame_id), (REQUEST, 0, 9))
        self.assertIs(type(got), bytes)
        self.assertEqual(got, payload)
        self.assertEqual(codec.loads(got)["args"]["s"], "\u00e9" * MiB)

    def test_bad_json_length_is_still_reported(self):
        bad = struct.pack(">I", 3 * MiB) + b"{}" + bytes(2 * MiB)
        self.feed(framing.encode_frame(REQUEST, BINARY, 1, bad))
        payload = self.reader.read_frame()[3]
        self.assertNotIsInstance(payload, SplitPayload)
        with self.assertRaises(codec.BinaryPayloadError):
            codec.loads_binary(payload)

    def test_end_of_input_inside_a_large_frame(self):
        frame = binary_request(1, '{"$bytes":[0,%d]}' % MiB, bytes(MiB))
        self.feed(frame[:len(frame) // 2], close=True)
        self.assertIsNone(self.reader.read_frame())
        self.assertIsNone(self.reader.read_frame())

    def test_new_bytes(self):
        for n in (0, 1, 2, 100, MiB):
            with self.subTest(n=n):
                obj, view = framing.new_bytes(n)
                self.assertEqual(len(obj), n)
                self.assertEqual(len(view), n)
                view[:] = b"q" * n
                del view
                self.assertEqual(obj, b"q" * n)
                if n >= 2:
                    self.assertIs(type(obj), bytes)
                    self.assertEqual(hash(obj), hash(b"q" * n))


class NoCollectionsTest(unittest.TestCase):
    def test_plain_requests_cause_no_collections(self):
        from snakepit_bridge import generic
        from snakepit_bridge.registry import load_adapter
        adapter = load_adapter(generic.__name__)
        fd = os.open(os.devnull, os.O_WRONLY)
        self.addCleanup(os.close, fd)
        handle = NativeBridge(adapter, BridgeState(adapter), 0, fd, 1 << 20)._request_handler()
        payloads = [b'{"command":"ping","args":{}}', b'{"command":"echo","args":{"a":[1,{}]}}']
        for i in range(200):
            handle(i + 1, payloads[i % 2])
        before = [s["collections"] for s in gc.get_stats()]
        for i in range(5000):
            handle(i + 1, payloads[i % 2])
        self.assertEqual([s["collections"] for s in gc.get_stats()], before)


if __name__ == "__main__":
    unittest.main()
