"""Running commands: error objects, binding errors, result encoding."""

import json
import unittest

try:
    from . import support  # noqa: F401
except ImportError:
    import support  # noqa: F401

import snakepit_bridge as sb
from snakepit_bridge import command, errors
from snakepit_bridge.context import BridgeState, Context
from snakepit_bridge.registry import Command
from snakepit_bridge.runtime import encode_result, run_command


class Boom(sb.SnakepitError):
    code = "NotFound"


@command
def ok(ctx, x=1):
    return {"x": x}


@command
def raise_(ctx, kind):
    if kind == "value":
        raise ValueError("bad value")
    if kind == "invalid":
        raise sb.InvalidArgument("nope")
    if kind == "custom":
        raise Boom("missing thing")
    if kind == "typed":
        raise sb.InvalidArgument("division by zero", type="ZeroDivisionError")
    if kind == "badcode":
        raise sb.SnakepitError("weird", code="NotACode")
    if kind == "typeerror":
        return len(5)  # a TypeError inside the command is not a binding error
    raise KeyError(kind)


COMMANDS = {"ok": Command("ok", ok), "raise": Command("raise", raise_)}


def run(name, args):
    return run_command(COMMANDS, Context(1, name), name, args)


class ErrorClassesTest(unittest.TestCase):
    def test_codes(self):
        expected = {
            sb.SnakepitError: "Internal", sb.InvalidArgument: "InvalidArgument",
            sb.NotFound: "NotFound", sb.FailedPrecondition: "FailedPrecondition",
            sb.Unavailable: "Unavailable", sb.ResourceExhausted: "ResourceExhausted",
            sb.Cancelled: "Cancelled", sb.DeadlineExceeded: "DeadlineExceeded",
        }
        for cls, code in expected.items():
            self.assertEqual(cls.code, code)
            self.assertTrue(issubclass(cls, sb.SnakepitError))
            self.assertTrue(issubclass(cls, Exception))
            self.assertIn(code, errors.CODES)

    def test_str(self):
        self.assertEqual(str(sb.NotFound("key x")), "key x")
        self.assertEqual(str(sb.NotFound()), "")


class RunCommandTest(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(run("ok", {"x": 5}), (True, {"x": 5}))
        self.assertEqual(run("ok", None), (True, {"x": 1}))  # missing args: {}

    def test_unknown_command(self):
        ok_, err = run("nope", {})
        self.assertFalse(ok_)
        self.assertEqual(err["code"], "InvalidArgument")
        self.assertEqual(err["type"], "UnknownCommand")
        self.assertEqual(err["message"], "unknown command 'nope'; available: ok, raise")

    def test_non_string_command(self):
        ok_, err = run(5, {})
        self.assertEqual((ok_, err["code"], err["type"]), (False, "InvalidArgument", "TypeError"))

    def test_args_not_object(self):
        ok_, err = run("ok", [1, 2])
        self.assertEqual((ok_, err["code"], err["type"]), (False, "InvalidArgument", "TypeError"))
        self.assertIn("an array", err["message"])

    def test_binding_errors(self):
        ok_, err = run("ok", {"y": 1})
        self.assertFalse(ok_)
        self.assertEqual((err["code"], err["type"]), ("InvalidArgument", "TypeError"))
        self.assertIn("'y'", err["message"])
        self.assertIn("ok()", err["message"])
        ok_, err = run("raise", {})
        self.assertIn("missing a required argument: 'kind'", err["message"])

    def test_exceptions(self):
        cases = {
            "value": ("Internal", "ValueError", "bad value"),
            "invalid": ("InvalidArgument", "InvalidArgument", "nope"),
            "custom": ("NotFound", "Boom", "missing thing"),
            "typed": ("InvalidArgument", "ZeroDivisionError", "division by zero"),
            "badcode": ("Internal", "SnakepitError", "weird"),
            "typeerror": ("Internal", "TypeError", None),
            "other": ("Internal", "KeyError", "'other'"),
        }
        for kind, (code, type_name, message) in cases.items():
            with self.subTest(kind):
                ok_, err = run("raise", {"kind": kind})
                self.assertFalse(ok_)
                self.assertEqual(err["code"], code)
                self.assertEqual(err["type"], type_name)
                if message is not None:
                    self.assertEqual(err["message"], message)
                self.assertTrue(err["traceback"].startswith("Traceback (most recent call last):"))
                self.assertIn("raise_", err["traceback"])
                self.assertNotIn("run_command", err["traceback"])
                json.dumps(err)

    def test_huge_message_clipped(self):
        err = errors.error_from_exception(ValueError("x" * 1_000_000), "tb")
        self.assertLess(len(err["message"]), errors.MAX_MESSAGE_CHARS + 100)


class EncodeResultTest(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(encode_result("c", {"a": "\u00e9"}, 1000),
                         (True, '{"a":"\u00e9"}'.encode("utf-8")))

    def test_not_serializable(self):
        ok_, data = encode_result("c", {"s": {1}}, 1000)
        self.assertFalse(ok_)
        err = json.loads(data)
        self.assertEqual((err["code"], err["type"]), ("Internal", "TypeError"))
        self.assertIn("not JSON-serializable", err["message"])
        self.assertIn("'c'", err["message"])

    def test_lone_surrogate(self):
        ok_, data = encode_result("c", "\udcff", 1000)
        self.assertFalse(ok_)
        self.assertEqual(json.loads(data)["code"], "Internal")

    def test_too_large(self):
        ok_, data = encode_result("c", "x" * 2000, 1000)
        self.assertFalse(ok_)
        self.assertEqual(json.loads(data)["code"], "ResourceExhausted")


class ContextTest(unittest.TestCase):
    def test_attributes(self):
        ctx = Context(7, "echo", "w-1")
        self.assertEqual((ctx.request_id, ctx.command, ctx.worker_id), (7, "echo", "w-1"))
        self.assertFalse(ctx.cancelled)
        ctx.cancel()
        self.assertTrue(ctx.cancelled)
        self.assertIsInstance(ctx.started_at, float)

    def test_worker_id_from_bridge(self):
        state = BridgeState(worker_id="pool-3.2")
        self.assertEqual(Context(1, "x", None, state).worker_id, "pool-3.2")

    def test_poll_cancel_hook(self):
        state = BridgeState(worker_id="")
        seen = []
        state.poll_cancel = lambda rid: seen.append(rid) or rid == 9
        self.assertFalse(Context(8, "x", None, state).cancelled)
        self.assertTrue(Context(9, "x", None, state).cancelled)
        self.assertEqual(seen, [8, 9])


if __name__ == "__main__":
    unittest.main()
