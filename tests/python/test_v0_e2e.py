"""End to end: the bridge in snakepit-v0 mode, and the v0_worker fixture."""

import datetime
import os
import sys
import unittest

try:
    from . import support
except ImportError:
    import support


def parse_timestamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class BridgeV0Test(unittest.TestCase):
    def start(self, adapter="snakepit_bridge.generic"):
        worker = support.V0Worker([sys.executable, "-m", "snakepit_bridge", "--adapter", adapter,
                                   "--protocol", "snakepit-v0"])
        self.addCleanup(worker.cleanup)
        return worker

    def test_conversation(self):
        worker = self.start()
        init = worker.request(1, "ping", {"worker_id": "v0-1", "initialization": True})
        self.assertEqual(init["id"], 1)
        self.assertIs(init["success"], True)
        self.assertEqual(init["result"]["status"], "ok")
        self.assertEqual(init["result"]["echo"], {"worker_id": "v0-1", "initialization": True})
        stamp = parse_timestamp(init["timestamp"])
        self.assertEqual(stamp.utcoffset(), datetime.timedelta(0))

        args = {"a": [1, "\u00e9"], "b": None}
        self.assertEqual(worker.request(2, "echo", args)["result"], args)

        failed = worker.request(3, "nope")
        self.assertEqual((failed["id"], failed["success"]), (3, False))
        self.assertTrue(failed["error"].startswith("UnknownCommand: unknown command 'nope'"))
        self.assertNotIn("result", failed)
        self.assertIn("timestamp", failed)

        failed = worker.request(4, "compute", {"operation": "divide", "a": 1, "b": 0})
        self.assertEqual(failed["error"], "ZeroDivisionError: division by zero")

        worker.close_input()
        self.assertEqual(worker.wait(), 0)

    def test_prints_cannot_corrupt_stdout(self):
        worker = self.start("misbehaving")
        self.assertEqual(worker.request(1, "print_lines", {"n": 3})["result"], {"printed": 3})
        self.assertEqual(worker.request(2, "pid")["result"], {"pid": worker.proc.pid})
        worker.close_input()
        self.assertEqual(worker.wait(), 0)
        self.assertIn(b"stdout line 3 of 3", worker.stderr)

    def test_bad_json_is_protocol_error(self):
        worker = self.start()
        worker.proc.stdin.write(b"\x00\x00\x00\x03{x}")
        worker.proc.stdin.flush()
        self.assertEqual(worker.wait(), 3)
        self.assertIn(b"protocol error", worker.stderr)

    def test_bad_adapter_exits_2(self):
        worker = self.start("no_such_adapter_module")
        self.assertEqual(worker.wait(), 2)
        self.assertTrue(worker.reader.at_eof())


class V0WorkerFixtureTest(unittest.TestCase):
    def test_commands(self):
        worker = support.V0Worker([sys.executable,
                                   os.path.join(support.WORKERS_DIR, "v0_worker.py")])
        self.addCleanup(worker.cleanup)
        ping = worker.request(1, "ping", {"worker_id": "w", "initialization": True})
        self.assertEqual((ping["id"], ping["success"], ping["result"]["status"]), (1, True, "ok"))
        self.assertEqual(worker.request(2, "echo", {"x": [1]})["result"], {"x": [1]})
        fail = worker.request(3, "fail")
        self.assertEqual((fail["success"], fail["error"]), (False, "boom"))
        self.assertEqual(worker.request(4, "bad_id")["id"], 1004)
        worker.close_input()
        self.assertEqual(worker.wait(), 0)

    def test_crash(self):
        worker = support.V0Worker([sys.executable,
                                   os.path.join(support.WORKERS_DIR, "v0_worker.py")])
        self.addCleanup(worker.cleanup)
        with self.assertRaises(EOFError):
            worker.request(1, "crash")
        self.assertEqual(worker.wait(), 4)


if __name__ == "__main__":
    unittest.main()
