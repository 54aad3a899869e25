'use strict';
// The generic adapter (--adapter bridges/node/generic.js, or "generic"):
// the Node twin of snakepit_bridge.generic, with the same commands,
// argument names, result shapes and errors: ping, echo, compute, info,
// sleep, crash; sessions: session_put, session_get, session_append,
// session_sum, session_info, local_counter; streams: count, stream_bytes,
// stream_calls; byte strings: checksum, transform, stream_bytes; calls to
// the host: call_host, stream_calls.

const crypto = require('crypto');
const os = require('os');
const {
  command, Cancelled, HostCallError, InvalidArgument, Unavailable, version,
} = require('./snakepit_bridge');

const MAX_COUNT = 10000000;
const MAX_BYTES = 64 * 1024 * 1024;
const APPEND_ATTEMPTS = 100;

const OPERATIONS = {
  add: (a, b) => a + b,
  subtract: (a, b) => a - b,
  multiply: (a, b) => a * b,
  divide: (a, b) => a / b,
};

// local_counter: session id (null: no session) -> count, in this process.
const localCounts = new Map();
const MISSING = Symbol('missing');

function isNumber(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

function isInt(v) {
  return Number.isInteger(v);
}

function repr(v) {
  if (v === undefined) return 'undefined';
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  try {
    return JSON.stringify(v);
  } catch (_) {
    return String(v);
  }
}

function jsonName(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'string') return 'a string';
  if (Array.isArray(v)) return 'a list';
  if (ArrayBuffer.isView(v)) return 'bytes';
  return 'an object';
}

// Python's type names, for messages matching the Python adapter.
function pyType(v) {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (ArrayBuffer.isView(v)) return 'bytes';
  return 'dict';
}

/** Resolves after `ms` milliseconds, or as soon as the request is cancelled. */
function sleepUnlessCancelled(ctx, ms) {
  return new Promise((resolve) => {
    if (ctx.cancelled) {
      resolve(false);
      return;
    }
    const signal = ctx.signal;
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

exports.ping = command(function ping(ctx, args) {
  const bridge = ctx.bridge;
  return {
    status: 'ok',
    uptime_s: (performance.now() - bridge.startedAt) / 1000,
    requests: bridge.requests,
    pid: process.pid,
    node: process.versions.node,
    worker_id: ctx.workerId,
    echo: args,
  };
}, { params: ['...'] });

exports.echo = command(function echo(ctx, args) {
  return args;
}, { params: ['...'] });

exports.compute = command(function compute(ctx, { operation, a, b }) {
  if (typeof operation !== 'string' || !Object.prototype.hasOwnProperty.call(OPERATIONS, operation)) {
    throw new InvalidArgument(`unknown operation ${repr(operation)}; valid operations: `
                              + `${Object.keys(OPERATIONS).join(', ')}`);
  }
  for (const [name, value] of [['a', a], ['b', b]]) {
    if (!isNumber(value)) {
      throw new InvalidArgument(`${name} must be a number, not ${pyType(value)}`,
                                { type: 'TypeError' });
    }
  }
  if (operation === 'divide' && b === 0) {
    throw new InvalidArgument('division by zero', { type: 'ZeroDivisionError' });
  }
  return { operation, a, b, result: OPERATIONS[operation](a, b) };
}, { params: ['operation', 'a', 'b'] });

exports.info = command(function info() {
  return {
    bridge: 'snakepit_bridge',
    runtime: 'node',
    version,
    adapter: 'generic',
    commands: Object.keys(module.exports).filter((k) => !k.startsWith('_')).sort(),
    platform: `${os.type()}-${os.release()}-${os.arch()}`,
    node: process.versions.node,
    pid: process.pid,
  };
}, { params: [] });

exports.sleep = command(async function sleep(ctx, { ms }) {
  if (!isInt(ms) || ms < 0) {
    throw new InvalidArgument(`ms must be a non-negative integer, not ${repr(ms)}`);
  }
  const start = performance.now();
  const finished = await sleepUnlessCancelled(ctx, ms);
  if (finished) return { slept_ms: ms };
  return { slept_ms: Math.floor(performance.now() - start), cancelled: true };
}, { params: ['ms'] });

exports.crash = command(function crash(ctx, { code = 1 }) {
  if (!isInt(code) || code < 0 || code > 255) {
    throw new InvalidArgument(`code must be an integer in 0..255, not ${repr(code)}`);
  }
  process.exit(code);
}, { params: ['code?'] });

exports.session_put = command(async function session_put(ctx, { key, value }) {
  return { version: await ctx.session.set(key, value) };
}, { params: ['key', 'value'] });

exports.session_get = command(async function session_get(ctx, { key }) {
  return ctx.session.get(key);
}, { params: ['key'] });

exports.session_append = command(async function session_append(ctx, { key, value }) {
  const session = ctx.session;
  for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
    if (attempt && ctx.cancelled) {
      throw new Cancelled(`session_append cancelled after ${attempt} attempts`);
    }
    const read = await session.read(key);
    const items = Object.prototype.hasOwnProperty.call(read.values, key) ? read.values[key] : [];
    if (!Array.isArray(items)) {
      throw new InvalidArgument(`session key ${repr(key)} holds ${jsonName(items)}, not a list`,
                                { type: 'TypeError' });
    }
    items.push(value);
    let newVersion;
    try {
      newVersion = await session.update({ set: { [key]: items }, ifVersion: read.version });
    } catch (e) {
      if (e instanceof HostCallError && e.code === 'FailedPrecondition'
          && e.reason === 'version_mismatch') continue;
      throw e;
    }
    return { length: items.length, version: newVersion };
  }
  throw new Unavailable(`session_append: the session changed under every one of ${APPEND_ATTEMPTS} `
                        + 'attempts', { details: { reason: 'contention', attempts: APPEND_ATTEMPTS } });
}, { params: ['key', 'value'] });

exports.session_sum = command(async function session_sum(ctx, { key }) {
  const items = await ctx.session.get(key, MISSING);
  if (items === MISSING) return 0;
  if (!Array.isArray(items)) {
    throw new InvalidArgument(`session key ${repr(key)} holds ${jsonName(items)}, not a list of `
                              + 'numbers', { type: 'TypeError' });
  }
  let sum = 0;
  for (const item of items) {
    if (!isNumber(item)) {
      throw new InvalidArgument(`session key ${repr(key)} holds a list with ${jsonName(item)}, `
                                + 'not a list of numbers', { type: 'TypeError' });
    }
    sum += item;
  }
  return sum;
}, { params: ['key'] });

exports.session_info = command(async function session_info(ctx) {
  return ctx.session.info();
}, { params: [] });

exports.local_counter = command(function local_counter(ctx) {
  const id = ctx.sessionId;
  const count = (localCounts.get(id) || 0) + 1;
  localCounts.set(id, count);
  return { count, pid: process.pid, session_id: id };
}, { params: [] });

function checkCount(name, value, limit = MAX_COUNT) {
  if (!isInt(value) || value < 0 || value > limit) {
    throw new InvalidArgument(`${name} must be an integer in 0..${limit}, not ${repr(value)}`,
                              { type: isInt(value) ? 'ValueError' : 'TypeError' });
  }
}

// Streaming commands that check their arguments when called (an error
// before any chunk) and return a generator: marked with streaming: true.

exports.count = command(function count(ctx, { n, delay_ms = 0, crash_after = null }) {
  checkCount('n', n);
  if (!isNumber(delay_ms) || delay_ms < 0 || delay_ms > 3600000) {
    throw new InvalidArgument(`delay_ms must be a number in 0..3600000, not ${repr(delay_ms)}`);
  }
  if (crash_after !== null && (!isInt(crash_after) || crash_after < 0)) {
    throw new InvalidArgument('crash_after must be a non-negative integer or null, not '
                              + `${repr(crash_after)}`);
  }
  if (delay_ms > 0) return countSlowly(ctx, n, delay_ms, crash_after);
  return countFast(n, crash_after);
}, { streaming: true, params: ['n', 'delay_ms?', 'crash_after?'] });

function* countFast(n, crashAfter) {
  for (let i = 0; i < n; i++) {
    if (i === crashAfter) process.exit(1);
    yield { i };
  }
  return { count: n };
}

async function* countSlowly(ctx, n, delayMs, crashAfter) {
  for (let i = 0; i < n; i++) {
    if (i === crashAfter) process.exit(1);
    await sleepUnlessCancelled(ctx, delayMs);
    yield { i };
  }
  return { count: n };
}

exports.stream_bytes = command(function stream_bytes(ctx, { n, size }) {
  checkCount('n', n);
  checkCount('size', size, MAX_BYTES);
  return (function* streamBytes() {
    for (let i = 0; i < n; i++) yield Buffer.alloc(size, i % 256);
    return { chunks: n, bytes: n * size };
  }());
}, { streaming: true, params: ['n', 'size'] });

function checkBytes(name, value) {
  if (!Buffer.isBuffer(value)) {
    throw new InvalidArgument(`${name} must be bytes (a byte string), not ${jsonName(value)}`,
                              { type: 'TypeError' });
  }
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

exports.checksum = command(function checksum(ctx, { data }) {
  checkBytes('data', data);
  return { size: data.length, sha256: sha256(data) };
}, { params: ['data'] });

function invert(data) {
  const out = Buffer.allocUnsafeSlow(data.length); // offset 0: word aligned
  data.copy(out);
  const words = new Int32Array(out.buffer, out.byteOffset, out.length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = ~words[i];
  for (let i = words.length * 4; i < out.length; i++) out[i] ^= 0xff;
  return out;
}

const TRANSFORMS = {
  reverse: (data) => Buffer.from(data).reverse(),
  invert,
  identity: (data) => data,
};

exports.transform = command(function transform(ctx, { data, op = 'reverse' }) {
  checkBytes('data', data);
  const fn = typeof op === 'string' && Object.prototype.hasOwnProperty.call(TRANSFORMS, op)
    ? TRANSFORMS[op] : null;
  if (!fn) {
    throw new InvalidArgument(`unknown op ${repr(op)}; valid ops: ${Object.keys(TRANSFORMS).join(', ')}`);
  }
  const result = fn(data);
  return { data: result, size: result.length, sha256: sha256(result) };
}, { params: ['data', 'op?'] });

function checkFunction(fn) {
  if (typeof fn !== 'string' || !fn) {
    throw new InvalidArgument(`function must be a non-empty string, not ${repr(fn)}`,
                              { type: 'TypeError' });
  }
}

exports.call_host = command(async function call_host(ctx, { function: fn, args = null }) {
  checkFunction(fn);
  if (args === null) {
    args = {};
  } else if (typeof args !== 'object' || Array.isArray(args) || ArrayBuffer.isView(args)) {
    throw new InvalidArgument(`args must be an object or null, not ${jsonName(args)}`,
                              { type: 'TypeError' });
  }
  return { result: await ctx.call(fn, args) };
}, { params: ['function', 'args?'] });

exports.stream_calls = command(function stream_calls(ctx, { n, function: fn }) {
  checkCount('n', n);
  checkFunction(fn);
  return (async function* streamCalls() {
    for (let i = 0; i < n; i++) yield { i, result: await ctx.call(fn, { i }) };
  }());
}, { streaming: true, params: ['n', 'function'] });
