"""End to end: python -m snakepit_bridge over the native protocol."""

import os
import signal
import subprocess
import sys
import threading
import unittest

try:
    from . import support
except ImportError:
    import support

HEADER = support.HEADER
HELLO, REQUEST, RESPONSE = support.HELLO, support.REQUEST, support.RESPONSE
CANCEL, PING, PONG, SHUTDOWN = support.CANCEL, support.PING, support.PONG, support.SHUTDOWN


class NativeCase(unittest.TestCase):
    adapter = "snakepit_bridge.generic"

    def start(self, adapter=None, **kwargs):
        worker = support.NativeWorker(adapter or self.adapter, **kwargs)
        self.addCleanup(worker.cleanup)
        return worker

    def start_ready(self, adapter=None):
        worker = self.start(adapter)
        kind, flags, frame_id, hello = worker.recv_frame()
        self.assertEqual((kind, flags, frame_id), (HELLO, 0, 0))
        return worker, hello


class GenericBridgeTest(NativeCase):
    def test_conversation(self):
        worker, hello = self.start_ready()
        self.assertEqual(hello["protocol"], 1)
        self.assertEqual(hello["pid"], worker.proc.pid)
        self.assertEqual(hello["bridge"], "python")
        self.assertEqual(hello["bridge_version"], "0.1.0")
        self.assertEqual(hello["adapter"], "snakepit_bridge.generic")
        self.assertEqual(hello["commands"], support.GENERIC_COMMANDS)

        kind, flags, frame_id, result = worker.request(1, "ping")
        self.assertEqual((kind, flags, frame_id), (RESPONSE, 0, 1))
        self.assertEqual(result["status"], "ok")
        self.assertEqual(result["worker_id"], "test-0.1")
        self.assertEqual(result["requests"], 0)

        worker.send_frame(PING, 42)
        self.assertEqual(worker.recv_frame(), (PONG, 0, 42, None))

        args = {"text": "h\u00e9llo \U0001f40d", "n": [1, 2.5, None, True]}
        self.assertEqual(worker.request(2**40 + 5, "echo", **args), (RESPONSE, 0, 2**40 + 5, args))

        kind, flags, frame_id, err = worker.request(7, "compute", operation="divide", a=1, b=0)
        self.assertEqual((kind, flags, frame_id), (RESPONSE, 1, 7))
        self.assertEqual((err["code"], err["type"], err["message"]),
                         ("InvalidArgument", "ZeroDivisionError", "division by zero"))
        self.assertIn("traceback", err)

        # A late cancel is ignored; the worker stays responsive.
        worker.send_frame(CANCEL, 7)
        worker.send_frame(PING, 43)
        self.assertEqual(worker.recv_frame(), (PONG, 0, 43, None))

        _, flags, _, err = worker.request(8, "nope")
        self.assertEqual((flags, err["code"], err["type"]), (1, "InvalidArgument", "UnknownCommand"))
        self.assertEqual(err["message"],
                         "unknown command 'nope'; available: " + ", ".join(support.GENERIC_COMMANDS))

        _, flags, _, err = worker.request(9, "compute", operation="add", a=1)
        self.assertEqual((flags, err["code"], err["type"]), (1, "InvalidArgument", "TypeError"))
        self.assertIn("'b'", err["message"])

        _, _, _, result = worker.request(10, "ping")
        self.assertEqual(result["requests"], 5)

        worker.send_frame(SHUTDOWN, 0)
        self.assertEqual(worker.wait(), 0)
        self.assertTrue(worker.reader.at_eof())

    def test_eof_exits_zero(self):
        worker, _ = self.start_ready()
        worker.close_input()
        self.assertEqual(worker.wait(), 0)

    def test_sigterm_exits_zero(self):
        worker, _ = self.start_ready()
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(), 0)

    def test_sigterm_during_command(self):
        worker, _ = self.start_ready()
        worker.send_frame(REQUEST, 1, {"command": "sleep", "args": {"ms": 60000}})
        # The request is in the pipe; SIGTERM interrupts the read or the sleep.
        worker.proc.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(), 0)

    def test_pipelined_frames_in_one_write(self):
        worker, _ = self.start_ready()
        data = b"".join(support.frame(REQUEST, i, {"command": "echo", "args": {"i": i}})
                        for i in range(1, 101)) + support.frame(PING, 1000)
        worker.send(data)
        for i in range(1, 101):
            self.assertEqual(worker.recv_frame(), (RESPONSE, 0, i, {"i": i}))
        self.assertEqual(worker.recv_frame(), (PONG, 0, 1000, None))

    def test_large_request_and_response(self):
        worker, _ = self.start_ready()
        blob = "x" * (5 * 1024 * 1024)
        # Writing 5 MB blocks until the worker reads, so write from a thread.
        thread = threading.Thread(target=worker.send, args=(
            support.frame(REQUEST, 3, {"command": "echo", "args": {"blob": blob}}),))
        thread.start()
        self.assertEqual(worker.recv_frame(), (RESPONSE, 0, 3, {"blob": blob}))
        thread.join()

    def test_result_too_large_for_max_frame(self):
        worker = self.start(env={"SNAKEPIT_MAX_FRAME": 4096})
        worker.recv_frame()
        _, flags, _, _ = worker.request(1, "echo", s="y" * 4000)
        self.assertEqual(flags, 0)
        # ping's result is its args plus ~150 bytes: above the limit.
        kind, flags, _, err = worker.request(2, "ping", s="y" * 4000)
        self.assertEqual((kind, flags, err["code"]), (RESPONSE, 1, "ResourceExhausted"))

    def test_cancel_during_sleep(self):
        worker, _ = self.start_ready()
        worker.send(support.frame(REQUEST, 5, {"command": "sleep", "args": {"ms": 60000}})
                    + support.frame(CANCEL, 5))
        kind, flags, frame_id, result = worker.recv_frame()
        self.assertEqual((kind, flags, frame_id), (RESPONSE, 0, 5))
        self.assertTrue(result["cancelled"])
        self.assertLess(result["slept_ms"], 60000)
        # The cancel frame was only peeked at; it is then read and ignored.
        worker.send_frame(PING, 6)
        self.assertEqual(worker.recv_frame(), (PONG, 0, 6, None))

    def test_crash_command(self):
        worker, _ = self.start_ready()
        worker.send_frame(REQUEST, 1, {"command": "crash", "args": {"code": 7}})
        self.assertEqual(worker.wait(), 7)

    def test_default_fds_3_and_4(self):
        # Without SNAKEPIT_FD_IN/OUT the bridge uses fds 3 and 4: a launcher
        # moves the pipes there and execs the bridge.
        launcher = ("import os, sys\n"
                    "r, w = int(os.environ.pop('SNAKEPIT_FD_IN')), int(os.environ.pop('SNAKEPIT_FD_OUT'))\n"
                    "tmp_r, tmp_w = os.dup(r), os.dup(w)\n"
                    "os.dup2(tmp_r, 3); os.dup2(tmp_w, 4)\n"
                    "os.execv(sys.executable, [sys.executable, '-m', 'snakepit_bridge',"
                    " '--adapter', 'snakepit_bridge.generic'])\n")
        worker = self.start(argv=[sys.executable, "-c", launcher])
        self.assertEqual(worker.recv_frame()[0], HELLO)
        self.assertEqual(worker.request(1, "echo", a=1), (RESPONSE, 0, 1, {"a": 1}))
        worker.send_frame(SHUTDOWN, 0)
        self.assertEqual(worker.wait(), 0)


class MalformedInputTest(NativeCase):
    def check_protocol_error(self, data):
        worker, _ = self.start_ready()
        worker.send(data)
        self.assertEqual(worker.wait(), 3)
        self.assertIn(b"protocol error", worker.stderr)

    def test_malformed(self):
        cases = {
            "short length": HEADER.pack(11, PING, 0, 0, 1),
            "over max": b"\xff\xff\xff\xff" + bytes(12),
            "unknown kind": HEADER.pack(12, 77, 0, 0, 1),
            "worker kind": HEADER.pack(12, PONG, 0, 0, 1),
            "unknown flags": HEADER.pack(12, PING, 0x80, 0, 1),
            "bad json": support.frame(REQUEST, 1, b'{"command": '),
            "empty request": support.frame(REQUEST, 1, b""),
            "bad utf-8": support.frame(REQUEST, 1, b'{"command":"\xff"}'),
        }
        for name, data in cases.items():
            with self.subTest(name):
                self.check_protocol_error(data)

    def test_valid_json_wrong_shape_is_an_error_response(self):
        worker, _ = self.start_ready()
        for i, payload in enumerate(([1, 2], {"args": {}}, {"command": "echo", "args": 5}), 1):
            worker.send_frame(REQUEST, i, payload)
            kind, flags, frame_id, err = worker.recv_frame()
            self.assertEqual((kind, flags, frame_id, err["code"]), (RESPONSE, 1, i, "InvalidArgument"))


class StartupErrorTest(NativeCase):
    def expect_exit_2_without_hello(self, adapter, env=None):
        worker = self.start(adapter, env=env)
        self.assertEqual(worker.wait(), 2)
        self.assertTrue(worker.reader.at_eof(), "nothing may be written before exiting")
        self.assertTrue(worker.stderr.strip())
        return worker.stderr

    def test_bad_adapters(self):
        self.assertIn(b"no_such_adapter_module",
                      self.expect_exit_2_without_hello("no_such_adapter_module"))
        self.expect_exit_2_without_hello("os")  # no commands
        self.expect_exit_2_without_hello("snakepit_bridge.generic:Missing")

    def test_bad_environment(self):
        self.expect_exit_2_without_hello(None, env={"SNAKEPIT_MAX_FRAME": "lots"})

    def test_fd_not_open(self):
        proc = subprocess.run(
            [sys.executable, "-m", "snakepit_bridge", "--adapter", "snakepit_bridge.generic"],
            env=support.child_env(SNAKEPIT_FD_IN=200, SNAKEPIT_FD_OUT=201),
            stdin=subprocess.DEVNULL, capture_output=True, timeout=support.TIMEOUT)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"SNAKEPIT_FD_IN", proc.stderr)


class MisbehavingAdapterTest(NativeCase):
    adapter = "misbehaving"

    def test_print_lines_do_not_touch_protocol(self):
        worker, hello = self.start_ready()
        self.assertEqual(hello["adapter"], "misbehaving")
        self.assertEqual(worker.request(1, "print_lines", n=2), (RESPONSE, 0, 1, {"printed": 2}))
        self.assertEqual(worker.request(2, "pid"), (RESPONSE, 0, 2, {"pid": worker.proc.pid}))
        worker.send_frame(SHUTDOWN, 0)
        self.assertEqual(worker.wait(), 0)
        self.assertEqual(worker.stdout.decode().splitlines(),
                         ["stdout line 1 of 2", "stdout line 2 of 2"])
        self.assertIn("stderr line 2 of 2", worker.stderr.decode())

    def test_exit_after_response(self):
        worker, _ = self.start_ready()
        self.assertEqual(worker.request(1, "exit_after_response"), (RESPONSE, 0, 1, {"ok": True}))
        self.assertEqual(worker.wait(), 0)
        self.assertTrue(worker.reader.at_eof())

    def test_wrong_id(self):
        worker, _ = self.start_ready()
        self.assertEqual(worker.request(5, "wrong_id"), (RESPONSE, 0, 999999, {"ok": True}))

    def test_huge_frame(self):
        worker, _ = self.start_ready()
        worker.send_frame(REQUEST, 5, {"command": "huge_frame", "args": {}})
        self.assertEqual(worker.reader.read_exact(16), HEADER.pack(0xFFFFFFFF, RESPONSE, 0, 0, 5))

    def test_write_garbage(self):
        worker, _ = self.start_ready()
        worker.send_frame(REQUEST, 5, {"command": "write_garbage", "args": {}})
        self.assertEqual(worker.reader.read_exact(80), b"this is not a frame\n" * 4)

    def test_ignore_sigterm(self):
        worker, _ = self.start_ready()
        self.assertEqual(worker.request(1, "ignore_sigterm"), (RESPONSE, 0, 1, {"ignoring": True}))
        worker.send_frame(SHUTDOWN, 0)
        worker.proc.send_signal(signal.SIGTERM)
        worker.close_input()
        with self.assertRaises(subprocess.TimeoutExpired):
            worker.proc.wait(timeout=0.5)
        worker.proc.kill()
        self.assertEqual(worker.proc.wait(timeout=support.TIMEOUT), -signal.SIGKILL)

    def test_spawn_grandchild(self):
        worker, _ = self.start_ready()
        kind, _, _, result = worker.request(1, "spawn_grandchild")
        grandchild = result["grandchild_pid"]
        self.addCleanup(self._kill_quietly, grandchild)
        os.kill(grandchild, 0)  # alive
        worker.send_frame(SHUTDOWN, 0)
        # (Not worker.wait(): the grandchild holds stdout/stderr open too.)
        self.assertEqual(worker.proc.wait(timeout=support.TIMEOUT), 0)
        # The grandchild still holds the protocol pipe: no EOF yet.
        with self.assertRaises(TimeoutError):
            worker.reader.at_eof(timeout=0.2)
        os.kill(grandchild, signal.SIGKILL)
        self.assertTrue(worker.reader.at_eof())

    @staticmethod
    def _kill_quietly(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    unittest.main()
