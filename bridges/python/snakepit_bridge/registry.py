"""The ``@command`` decorator and adapter loading.

An adapter is either a module whose functions are decorated with ``@command``
(spec ``"package.module"``) or a class whose decorated methods are the
commands (spec ``"package.module:ClassName"``; instantiated once, no args).
"""

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
    ``@command(streaming=True)``). The command is called as
    ``fn(ctx, **args)``.

    A streaming command returns an iterator, usually by being a generator
    function: each value it yields is one ``chunk`` of the result and a
    generator's ``return`` value becomes the final value of the stream
    (docs/protocol.md, "Streaming"). Asked without ``STREAM``, it answers
    with the list of its chunks. Between chunks the bridge checks for a
    ``cancel``, and closes the generator (``GeneratorExit`` at its
    ``yield``) when one came; ``ctx.cancelled`` and ``ctx.call`` work inside
    the generator.
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


# Parameter kinds, numbered like inspect.Parameter's.
POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD = range(5)
# types.FunctionType and types.MethodType, without importing types.
_FunctionType = type(command_info)
_MethodType = type(command_info.__get__(0))


def function_parameters(fn):
    """The parameters of a plain function as inspect.signature gives them:
    a list of (name, kind, has_default). None if inspect.signature would not
    read them from ``fn.__code__`` (not a function; ``__wrapped__`` or
    ``__signature__`` set, e.g. by functools.wraps)."""
    if type(fn) is not _FunctionType or (
            "__wrapped__" in fn.__dict__ or "__signature__" in fn.__dict__
            or "_partialmethod" in fn.__dict__ or "__partialmethod__" in fn.__dict__):
        return None
    code = fn.__code__
    names = code.co_varnames
    npos = code.co_argcount
    end = npos + code.co_kwonlyargcount
    first_default = npos - len(fn.__defaults__ or ())
    kwdefaults = fn.__kwdefaults__ or ()
    params = []
    for i in range(npos):
        params.append((names[i], POSITIONAL_ONLY if i < code.co_posonlyargcount
                       else POSITIONAL_OR_KEYWORD, i >= first_default))
    varargs = code.co_flags & 0x04  # CO_VARARGS
    if varargs:
        params.append((names[end], VAR_POSITIONAL, False))
    for name in names[npos:end]:
        params.append((name, KEYWORD_ONLY, name in kwdefaults))
    if code.co_flags & 0x08:  # CO_VARKEYWORDS
        params.append((names[end + 1 if varargs else end], VAR_KEYWORD, False))
    return params


def read_parameters(fn):
    """The parameters of ``fn(ctx, **args)`` as inspect.signature(fn) gives
    them (see function_parameters); None if it has no signature.

    Functions and their bound methods (class adapters) are read from the code
    object; other callables (functools.partial, callable objects, decorated
    functions) go through inspect (binding.py, imported only then).
    """
    if type(fn) is _MethodType:
        params = function_parameters(fn.__func__)
        if params is not None:
            # inspect._signature_bound_method: the bound first parameter
            # goes; *args absorbs it; a method with neither has no signature.
            if not params or params[0][1] > VAR_POSITIONAL:
                return None
            return params if params[0][1] == VAR_POSITIONAL else params[1:]
    else:
        params = function_parameters(fn)
        if params is not None:
            return params
    from .binding import inspect_parameters
    return inspect_parameters(fn)


class Command:
    """A loaded command: the callable plus a precomputed argument check.

    ``check(ctx, args)`` raises TypeError, worded like ``Signature.bind``'s,
    when ``fn(ctx, **args)`` would not bind. ``parameters``: (name, kind,
    has_default) per parameter, read once by read_parameters; None: no
    signature, no check. For ordinary signatures (``ctx`` then
    keyword-capable parameters and optionally ``**kwargs``) a set comparison
    decides the common case; binding.bind runs only to confirm and word a
    failure.
    """

    __slots__ = ("name", "fn", "streaming", "parameters", "empty_ok", "_fast",
                 "_names", "_required", "_varkw", "_ctx_name")

    def __init__(self, name, fn, streaming=False):
        self.name = name
        self.fn = fn
        self.streaming = streaming
        self._fast = False
        self.parameters = params = read_parameters(fn)
        # True when check(ctx, {}) is known to pass: the runtime then skips
        # it for requests without arguments.
        self.empty_ok = params is None
        if not params or params[0][1] > POSITIONAL_OR_KEYWORD:
            return
        names = []
        required = []
        self._varkw = False
        for name, kind, has_default in params[1:]:
            if kind == VAR_KEYWORD:
                self._varkw = True
            elif kind == POSITIONAL_ONLY or kind == VAR_POSITIONAL:
                return
            else:
                names.append(name)
                if not has_default:
                    required.append(name)
        self._names = frozenset(names)
        self._required = frozenset(required)
        # A key equal to a positional-or-keyword ctx parameter's name would
        # bind twice.
        self._ctx_name = params[0][0] if params[0][1] == POSITIONAL_OR_KEYWORD else None
        self._fast = True
        self.empty_ok = not required

    def check(self, ctx, args):
        if self._fast:
            keys = args.keys()
            if (self._required <= keys
                    and (self._varkw or keys <= self._names)
                    and self._ctx_name not in keys):
                return
        if self.parameters is not None:
            from .binding import bind
            bind(self.parameters, ctx, args)

    @property
    def signature(self):
        """inspect.signature(fn), or None if it has none (imports inspect)."""
        if self.parameters is None:
            return None
        import inspect
        return inspect.signature(self.fn)

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


_type_dict = type.__dict__["__dict__"].__get__
_type_mro = type.__dict__["__mro__"].__get__


def _getattr_static(cls, attr):
    """inspect.getattr_static(cls, attr, None) for a class: the raw class
    attribute (no descriptor protocol), from the MRO then the metaclass."""
    for mro in (_type_mro(cls), _type_mro(type(cls))):
        for entry in mro:
            entry_dict = _type_dict(entry)
            if attr in entry_dict:
                return entry_dict[attr]
    return None


def commands_of_instance(instance):
    """The commands of a class adapter instance (its decorated methods)."""
    cls = type(instance)
    pairs = []
    for attr in dir(cls):
        info = command_info(_getattr_static(cls, attr))
        if info is not None:
            pairs.append((attr, getattr(instance, attr), info))
    return _collect(pairs, cls.__qualname__)


def load_adapter(spec):
    """Import ``module[:Class]`` and return an Adapter; raises AdapterError."""
    module_name, sep, class_name = spec.partition(":")
    if not module_name or (sep and not class_name):
        raise AdapterError("bad adapter spec %r (expected module[:ClassName])" % spec)
    import importlib
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
