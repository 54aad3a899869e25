"""SIGUSR1 makes the bridge print every thread's stack to stderr
(faulthandler) and keep running (docs/protocol.md, "Exit codes and edge
cases (Python bridge)")."""

import signal
import sys
import unittest

try:
    from . import support
except ImportError:
    import support

HELLO, REQUEST, RESPONSE = support.HELLO, support.REQUEST, support.RESPONSE
CALL, REPLY, PING, PONG = support.CALL, support.REPLY, support.PING, support.PONG


class NativeStackDumpTest(unittest.TestCase):
    def start(self, adapter):
        worker = support.NativeWorker(adapter)
        self.addCleanup(worker.cleanup)
        self.assertEqual(worker.recv_frame()[0], HELLO)
        return worker, support.StackDumps(worker.proc)

    def test_blocked_command_is_in_the_dump_and_the_worker_lives_on(self):
        worker, dumps = self.start("misbehaving")
        worker.send_frame(REQUEST, 1, {"command": "hang", "args": {}})
        # A dump taken before the bridge reached the command shows the read
        # loop; the next ones show the command.
        text = dumps.dump_until(" in hang\n")
        self.assertIn("(most recent call first):\n", text)
        self.assertRegex(text, r"[Tt]hread 0x[0-9a-f]+ \(most recent call first\):")
        self.assertIn("misbehaving.py", text)
        self.assertIn(" in run_command\n", text)
        self.assertIsNone(worker.proc.poll())
        # Still alive and still dumping; SIGTERM ends it as usual.
        self.assertIn(" in hang\n", dumps.dump())
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(), 0)

    def test_command_waiting_for_a_reply(self):
        # Deterministic: the call frame proves the command runs.
        worker, dumps = self.start("snakepit_bridge.generic")
        host = support.FakeSessionHost()
        worker.send_frame(REQUEST, 1, {"command": "session_get", "args": {"key": "k"},
                                       "session": host.session_id})
        kind, _, call_id, payload = worker.recv_frame()
        self.assertEqual(kind, CALL)
        text = dumps.dump()
        self.assertIn("most recent call first", text)
        self.assertIn(" in session_get\n", text)
        # The conversation goes on where it stopped.
        flags, result = host.answer(payload)
        worker.send_frame(REPLY, call_id, result, flags)
        self.assertEqual(worker.recv_frame(), (RESPONSE, 0, 1, None))
        worker.send_frame(PING, 7)
        self.assertEqual(worker.recv_frame(), (PONG, 0, 7, None))
        worker.close_input()
        self.assertEqual(worker.wait(), 0)

    def test_idle_worker(self):
        worker, dumps = self.start("snakepit_bridge.generic")
        # Right after the hello, the bridge may still be on its way to reading.
        text = dumps.dump_until(" in read_frame\n")
        self.assertIn(" in serve\n", text)
        self.assertEqual(worker.request(1, "ping")[:3], (RESPONSE, 0, 1))
        worker.close_input()
        self.assertEqual(worker.wait(), 0)
        # Only the dump reached stderr: no prefix, no other output.
        self.assertEqual(worker.stderr, b"")
        self.assertRegex(dumps.text, r"\A(Current thread|Thread) 0x[0-9a-f]+ ")


class V0StackDumpTest(unittest.TestCase):
    def test_idle_worker(self):
        worker = support.V0Worker([sys.executable, "-m", "snakepit_bridge",
                                   "--adapter", "snakepit_bridge.generic",
                                   "--protocol", "snakepit-v0"])
        self.addCleanup(worker.cleanup)
        self.assertIs(worker.request(1, "ping")["success"], True)
        dumps = support.StackDumps(worker.proc)
        text = dumps.dump_until(" in read_message\n")
        self.assertIn("most recent call first", text)
        self.assertIn(" in serve\n", text)
        self.assertIs(worker.request(2, "ping")["success"], True)
        worker.close_input()
        self.assertEqual(worker.wait(), 0)


if __name__ == "__main__":
    unittest.main()
