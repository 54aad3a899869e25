"""The ``@command`` decorator and adapter loading.

An adapter is either a module whose functions are decorated with ``@command``
(spec ``"package.module"``) or a class whose decorated methods are the
commands (spec ``"package.module:ClassName"``; instantiated once, no args).
"""

import importlib
import inspect

from .errors import make_error

# The attribute ``@command`` sets on the function it decorates.
MARKER = "__snakepit_command__"


class CommandInfo:
    """What ``@command`` records on a function."""

    __slots__ = ("name", "streaming")

    def __init__(self, name, streaming):
        self.name = name
        self.streaming = streaming

    def __repr__(self):
        return "CommandInfo(name=%r, streaming=%r)" % (self.name, self.streaming)


def command(fn=None, *, name=None, streaming=False):
    """Mark a function as a bridge command.

    Usable bare (``@command``) or with options (``@command(name="x")``,
    ``@command(streaming=True)``; streaming is recorded, not yet used).
    The command is called as ``fn(ctx, **args)``.
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("command name must be a non-empty string")

    def mark(f):
        target = getattr(f, "__func__", f)  # staticmethod/classmethod objects
        setattr(target, MARKER, CommandInfo(name or target.__name__, bool(streaming)))
        return f

    if fn is not None:
        if not callable(fn) and not hasattr(fn, "__func__"):
            raise TypeError("@command must decorate a function")
        return mark(fn)
    return mark


def command_info(obj):
    """The CommandInfo of a decorated callable, or None."""
    try:
        info = getattr(obj, MARKER, None)
        if info is None:
            info = getattr(getattr(obj, "__func__", None), MARKER, None)
    except Exception:  # exotic objects with a raising __getattr__
        return None
    return info if isinstance(info, CommandInfo) else None


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY,
               inspect.Parameter.POSITIONAL_OR_KEYWORD)
_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY)


class Command:
    """A loaded command: the callable plus a precomputed argument check.

    ``check(ctx, args)`` raises TypeError (from ``Signature.bind``) when
    ``fn(ctx, **args)`` would not bind. ``Signature.bind`` costs several
    microseconds, so for ordinary signatures (``ctx`` then keyword-capable
    parameters and optionally ``**kwargs``) a set comparison decides the
    common case, and ``bind`` runs only to confirm and word a failure.
    """

    __slots__ = ("name", "fn", "streaming", "signature", "_fast",
                 "_names", "_required", "_varkw", "_ctx_name")

    def __init__(self, name, fn, streaming=False):
        self.name = name
        self.fn = fn
        self.streaming = streaming
        try:
            self.signature = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have no signature
            self.signature = None
        self._fast = False
        if self.signature is None:
            return
        params = list(self.signature.parameters.values())
        if not params or params[0].kind not in _POSITIONAL:
            return
        rest = params[1:]
        if any(p.kind not in _KEYWORD and p.kind != p.VAR_KEYWORD for p in rest):
            return
        self._names = frozenset(p.name for p in rest if p.kind in _KEYWORD)
        self._required = frozenset(p.name for p in rest
                                   if p.kind in _KEYWORD and p.default is p.empty)
        self._varkw = any(p.kind == p.VAR_KEYWORD for p in rest)
        # A key equal to a positional-or-keyword ctx parameter's name would
        # bind twice.
        self._ctx_name = (params[0].name
                          if params[0].kind == params[0].POSITIONAL_OR_KEYWORD
                          else None)
        self._fast = True

    def check(self, ctx, args):
        if self._fast:
            keys = args.keys()
            if (self._required <= keys
                    and (self._varkw or keys <= self._names)
                    and self._ctx_name not in keys):
                return
        if self.signature is not None:
            self.signature.bind(ctx, **args)

    def __repr__(self):
        return "Command(%r)" % self.name


class AdapterError(Exception):
    """The adapter could not be loaded (the bridge exits with code 2)."""


class Adapter:
    """A loaded adapter: its spec, the instance (class adapters) and commands."""

    def __init__(self, spec, commands, instance=None):
        self.spec = spec
        self.commands = commands  # name -> Command
        self.instance = instance

    @property
    def command_names(self):
        return sorted(self.commands)


def _collect(pairs, where):
    commands = {}
    for attr, fn, info in pairs:
        if info.name in commands:
            raise AdapterError("%s: two commands are named %r (%s and %s)"
                               % (where, info.name, commands[info.name].fn.__name__, attr))
        commands[info.name] = Command(info.name, fn, info.streaming)
    return commands


def commands_of_module(module):
    """The commands a module defines, name -> Command."""
    pairs = []
    for attr, value in vars(module).items():
        if attr.startswith("__") or isinstance(value, type):
            continue
        info = command_info(value)
        if info is not None and callable(value):
            pairs.append((attr, value, info))
    return _collect(pairs, module.__name__)


def commands_of_instance(instance):
    """The commands of a class adapter instance (its decorated methods)."""
    cls = type(instance)
    pairs = []
    for attr in dir(cls):
        info = command_info(inspect.getattr_static(cls, attr, None))
        if info is not None:
            pairs.append((attr, getattr(instance, attr), info))
    return _collect(pairs, cls.__qualname__)


def load_adapter(spec):
    """Import ``module[:Class]`` and return an Adapter; raises AdapterError."""
    module_name, sep, class_name = spec.partition(":")
    if not module_name or (sep and not class_name):
        raise AdapterError("bad adapter spec %r (expected module[:ClassName])" % spec)
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # ImportError, SyntaxError, SystemExit, ...
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise AdapterError("cannot import adapter module %r: %s: %s"
                           % (module_name, type(exc).__name__, exc)) from exc
    instance = None
    if class_name:
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type):
            raise AdapterError("adapter module %r has no class %r" % (module_name, class_name))
        try:
            instance = cls()
        except Exception as exc:
            raise AdapterError("cannot instantiate adapter class %s: %s: %s"
                               % (spec, type(exc).__name__, exc)) from exc
        commands = commands_of_instance(instance)
    else:
        commands = commands_of_module(module)
    if not commands:
        raise AdapterError("adapter %r defines no @command functions" % spec)
    return Adapter(spec, commands, instance)


def unknown_command_error(name, commands):
    return make_error(
        "InvalidArgument", "UnknownCommand",
        "unknown command '%s'; available: %s" % (name, ", ".join(sorted(commands))))
