'use strict';
// The native protocol loop (docs/protocol.md, "Native protocol").
//
// Input is read asynchronously (a net.Socket on the pipe, so the event loop
// sees `cancel`, `ping`, `reply` and `shutdown` while a command awaits
// something); output is written synchronously with fs.writeSync/writevSync,
// so a blocked pipe is the flow control and frames never interleave.
//
// Requests are served one at a time: one that arrives while another runs
// (the host never does that) waits its turn. A command that never yields to
// the event loop (a synchronous busy loop) sees no cancel and answers no
// ping until it returns; one that awaits (timers, ctx.call, I/O) does.
// `ping` is answered at once whenever the event loop gets it.

const fs = require('fs');
const net = require('net');
const {
  HELLO, REQUEST, RESPONSE, CHUNK, END, CALL, REPLY, CANCEL, PING, PONG, SHUTDOWN,
  FLAG_ERROR, FLAG_BINARY, FLAG_STREAM, HEADER_SIZE, PREFIX_SIZE,
  ProtocolError, encodeHeader, FrameParser, HOST_TO_WORKER,
} = require('./framing');
const { encode, decode, decodeBinary, BinaryPayloadError, jsonName } = require('./codec');
const {
  InvalidArgument, ResourceExhausted, FailedPrecondition, makeError, errorFromException,
  hostCallError,
} = require('./errors');
const { Context, isPlainObject } = require('./context');
const { unknownCommandError } = require('./registry');

const VERSION = '0.1.0';
// While a stream runs: the longest time (ms) between two turns of the event
// loop (when chunks come faster), so that a `cancel` is seen.
const CANCEL_POLL_MS = 1;
const IOV_MAX = 1024;
const RETRY_CODES = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleepCell, 0, 0, ms);
}

class HostGone extends Error {}

/** Write every byte of `buffers` (Uint8Arrays, in order) to `fd`. */
function writeAllSync(fd, buffers) {
  const bufs = buffers.filter((b) => b.length);
  let i = 0;
  while (i < bufs.length) {
    let n;
    try {
      if (i === bufs.length - 1) {
        n = fs.writeSync(fd, bufs[i]);
      } else {
        n = fs.writevSync(fd, bufs.slice(i, i + IOV_MAX));
      }
    } catch (e) {
      if (e && RETRY_CODES.has(e.code)) {
        // A non-blocking descriptor that is full: wait a little.
        if (e.code !== 'EINTR') sleepMs(1);
        continue;
      }
      if (e && (e.code === 'EPIPE' || e.code === 'ECONNRESET')) throw new HostGone(e.message);
      throw e;
    }
    while (n > 0 && i < bufs.length) {
      const size = bufs[i].length;
      if (n >= size) {
        n -= size;
        i++;
      } else {
        bufs[i] = bufs[i].subarray(n);
        n = 0;
      }
    }
  }
}

function streamCancelledError() {
  return makeError('Cancelled', 'Cancelled', 'stream cancelled by the host');
}

function badPayload(what, id, e) {
  if (e instanceof BinaryPayloadError) {
    return new ProtocolError(`${what} ${id}: bad binary payload: ${e.message}`);
  }
  return new ProtocolError(`${what} ${id}: payload is not valid JSON: ${e && e.message}`);
}

async function closeIterator(it, isAsync) {
  if (!it || typeof it.return !== 'function') return;
  try {
    const r = it.return();
    if (isAsync) await r;
  } catch (_) {
    // errors while closing are dropped
  }
}

function turnEventLoop() {
  return new Promise((resolve) => setImmediate(resolve));
}

function openInput(fd) {
  let stat = null;
  try {
    stat = fs.fstatSync(fd);
  } catch (_) {
    stat = null;
  }
  if (stat && (stat.isFIFO() || stat.isSocket())) {
    return new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  }
  return fs.createReadStream(null, { fd, autoClose: false, highWaterMark: 1 << 20 });
}

/** Serves one adapter over the native protocol on (fdIn, fdOut). */
class NativeBridge {
  constructor(adapter, state, fdIn, fdOut, maxFrame, options = {}) {
    this.adapter = adapter;
    this.state = state;
    this.fdIn = fdIn;
    this.fdOut = fdOut;
    this.maxFrame = maxFrame;
    this.maxPayload = maxFrame - HEADER_SIZE;
    this.exitFn = options.exit || ((code) => process.exit(code));
    this.say = options.say || ((msg) => {
      try {
        fs.writeSync(2, `snakepit_bridge: ${msg}\n`);
      } catch (_) { /* no stderr */ }
    });
    this.nextCallId = 1;
    this.calls = new Map(); // call id (Number) -> {resolve, reject, fn, ctx}
    this.current = null; // the running request
    this.queue = []; // requests that came while one ran
    this.pendingExit = null; // exit code once the running request is answered
    this.eof = false;
    this.stopped = false;
    this.input = null;
    this.parser = new FrameParser((k, f, i, p) => this.onFrame(k, f, i, p), maxFrame,
                                  HOST_TO_WORKER);
    state.callHost = (ctx, fn, args) => this.callHost(ctx, fn, args);
  }

  // ---- output ----

  write(buffers) {
    if (this.stopped) return;
    try {
      writeAllSync(this.fdOut, buffers);
    } catch (e) {
      if (e instanceof HostGone) {
        this.say('the host closed the protocol pipe; exiting');
        this.exit(0);
        return;
      }
      throw e;
    }
  }

  sendEmpty(kind, id) {
    this.write([encodeHeader(kind, 0, id, 0)]);
  }

  /** Send `enc` ({json, attachments, attached, jsonLength}) as one frame. */
  sendEncoded(kind, flags, id, enc) {
    const jsonLength = enc.jsonLength !== undefined ? enc.jsonLength : Buffer.byteLength(enc.json);
    if (!enc.attachments) {
      const buf = Buffer.allocUnsafe(PREFIX_SIZE + jsonLength);
      encodeHeader(kind, flags, id, jsonLength, buf, 0);
      buf.write(enc.json, PREFIX_SIZE, 'utf8');
      this.write([buf]);
      return;
    }
    const head = Buffer.allocUnsafe(PREFIX_SIZE + 4 + jsonLength);
    encodeHeader(kind, flags | FLAG_BINARY, id, 4 + jsonLength + enc.attached, head, 0);
    head.writeUInt32BE(jsonLength, PREFIX_SIZE);
    head.write(enc.json, PREFIX_SIZE + 4, 'utf8');
    this.write([head, ...enc.attachments]);
  }

  /** Send an error object with ERROR (shrunk if it would not fit). */
  sendError(kind, id, err) {
    let json = JSON.stringify(err);
    if (Buffer.byteLength(json) > this.maxPayload) {
      const small = { code: err.code, type: err.type, message: String(err.message) };
      if (err.details) small.details = { reason: err.details.reason };
      json = JSON.stringify(small);
      while (Buffer.byteLength(json) > this.maxPayload && small.message.length > 0) {
        small.message = small.message.slice(0, Math.floor(small.message.length / 2));
        delete small.details;
        json = JSON.stringify(small);
      }
    }
    this.sendEncoded(kind, FLAG_ERROR, id, { json, attachments: null });
  }

  /**
   * {ok: true, enc} with enc ready for sendEncoded, or {ok: false, err}:
   * the error object when `value` is not JSON or is too large.
   */
  encodeValue(name, value, what = 'result') {
    let enc;
    try {
      enc = encode(value === undefined ? null : value);
    } catch (e) {
      return { ok: false, err: errorFromException(e, `${what} of '${name}' is not JSON-serializable: `) };
    }
    enc.jsonLength = Buffer.byteLength(enc.json);
    if (!enc.attachments) {
      if (enc.jsonLength > this.maxPayload) {
        return { ok: false, err: makeError('ResourceExhausted', 'FrameTooLarge',
          `${what} of '${name}' is ${enc.jsonLength} bytes of JSON, above the maximum payload `
          + `of ${this.maxPayload} bytes`) };
      }
      return { ok: true, enc };
    }
    const size = 4 + enc.jsonLength + enc.attached;
    if (size > this.maxPayload) {
      return { ok: false, err: makeError('ResourceExhausted', 'FrameTooLarge',
        `${what} of '${name}' is ${size} bytes (${enc.jsonLength} of JSON, ${enc.attached} in `
        + `byte strings), above the maximum payload of ${this.maxPayload} bytes`) };
    }
    return { ok: true, enc };
  }

  sendHello() {
    const hello = {
      protocol: 1,
      pid: process.pid,
      bridge: 'node',
      bridge_version: VERSION,
      adapter: this.adapter.spec,
      commands: this.adapter.commandNames,
    };
    this.sendEncoded(HELLO, 0, 0, { json: JSON.stringify(hello), attachments: null });
  }

  // ---- input ----

  start() {
    const input = this.input = openInput(this.fdIn);
    input.on('data', (chunk) => {
      if (this.stopped) return;
      try {
        this.parser.push(chunk);
      } catch (e) {
        if (e instanceof ProtocolError) {
          this.protocolError(e);
        } else {
          throw e;
        }
      }
    });
    input.on('end', () => this.onEof());
    input.on('close', () => this.onEof());
    input.on('error', (e) => {
      this.say(`reading the protocol pipe failed: ${e.message}`);
      this.onEof();
    });
  }

  exit(code) {
    if (this.stopped) return;
    this.stopped = true;
    if (this.input) this.input.pause();
    this.exitFn(code);
  }

  protocolError(e) {
    if (this.stopped) return;
    this.say(`protocol error: ${e.message}`);
    this.exit(3);
  }

  onEof() {
    if (this.stopped || this.eof) return;
    this.eof = true;
    // Like the Python bridge: a running command finishes (and answers) first,
    // unless it waits for a reply that can no longer come.
    if (!this.current || this.calls.size) {
      this.exit(0);
    } else {
      this.pendingExit = 0;
    }
  }

  onFrame(kind, flags, id, payload) {
    if (this.stopped) return;
    switch (kind) {
      case REQUEST:
        if (this.current) {
          this.queue.push([flags, id, payload]);
        } else {
          this.startRequest(flags, id, payload);
        }
        break;
      case REPLY:
        this.onReply(flags, id, payload);
        break;
      case CANCEL:
        if (this.current && this.current.id === id) this.current.ctx.cancel();
        // otherwise late: ignored
        break;
      case PING:
        this.sendEmpty(PONG, id);
        break;
      case SHUTDOWN:
        if (this.current) {
          this.pendingExit = 0;
        } else {
          this.exit(0);
        }
        break;
      default:
        throw new ProtocolError(`unexpected frame kind ${kind}`);
    }
  }

  onReply(flags, id, payload) {
    const key = id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : -1;
    const entry = this.calls.get(key);
    if (!entry) {
      if (!this.calls.size) throw new ProtocolError(`reply ${id} while no call is waiting`);
      throw new ProtocolError(`reply ${id} while waiting for the reply to call `
                              + `${[...this.calls.keys()].join(', ')}`);
    }
    let value;
    try {
      value = flags & FLAG_BINARY ? decodeBinary(payload) : decode(payload);
    } catch (e) {
      throw badPayload('reply', id, e);
    }
    this.calls.delete(key);
    if (flags & FLAG_ERROR) {
      entry.reject(hostCallError(entry.fn, value));
    } else {
      entry.resolve(value);
    }
  }

  // ---- requests ----

  startRequest(flags, id, payload) {
    let request;
    try {
      request = flags & FLAG_BINARY ? decodeBinary(payload) : decode(payload);
    } catch (e) {
      throw badPayload('request', id, e);
    }
    const stream = (flags & FLAG_STREAM) !== 0;
    const req = { id, stream, ctx: null, name: null, done: false };
    this.current = req;
    if (!isPlainObject(request)) {
      this.finish(req, false, makeError('InvalidArgument', 'TypeError',
        `request payload must be a JSON object, not ${jsonName(request)}`));
      return;
    }
    const name = request.command;
    const session = request.session;
    if (session != null && typeof session !== 'string') {
      this.finish(req, false, makeError('InvalidArgument', 'TypeError',
        `the request's "session" must be a string, not ${jsonName(session)}`));
      return;
    }
    req.name = name;
    const ctx = req.ctx = new Context(Number(id), name, this.state, session);
    if (typeof name !== 'string') {
      this.finish(req, false, makeError('InvalidArgument', 'TypeError',
        'the request\'s "command" must be a string'));
      return;
    }
    const cmd = this.adapter.commands.get(name);
    if (!cmd) {
      this.finish(req, false, unknownCommandError(name, this.adapter.commands));
      return;
    }
    let args = request.args;
    if (!isPlainObject(args)) {
      if (args != null) {
        this.finish(req, false, makeError('InvalidArgument', 'TypeError',
          `${name}: "args" must be a JSON object, not ${jsonName(args)}`));
        return;
      }
      args = {};
    }
    const bad = cmd.checkArgs(args);
    if (bad) {
      this.finish(req, false, makeError('InvalidArgument', 'TypeError', bad));
      return;
    }
    let result;
    try {
      result = cmd.fn(ctx, args);
    } catch (e) {
      this.finish(req, false, errorFromException(e));
      return;
    }
    if (cmd.streaming) {
      this.runStream(req, result).catch((e) => this.fail(req, e));
    } else if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then((v) => this.finish(req, true, v), (e) => this.finish(req, false, errorFromException(e)))
        .catch((e) => this.fail(req, e));
    } else {
      this.finish(req, true, result);
    }
  }

  // An unexpected error of the bridge itself while serving `req`.
  fail(req, e) {
    if (e instanceof ProtocolError) {
      this.protocolError(e);
      return;
    }
    this.say(`internal error: ${e && e.stack}`);
    this.finish(req, false, errorFromException(e, 'bridge error: '));
  }

  /** Answer `req` (response, or end for a stream request) once. */
  finish(req, ok, value) {
    if (req.done || this.stopped) return;
    const kind = req.stream ? END : RESPONSE;
    if (ok) {
      const r = this.encodeValue(req.name, value);
      if (r.ok) {
        req.done = true;
        this.sendEncoded(kind, 0, req.id, r.enc);
      } else {
        ok = false;
        value = r.err;
      }
    }
    if (!ok) {
      req.done = true;
      this.sendError(kind, req.id, value);
    }
    if (req.ctx) req.ctx._done = true;
    if (this.current === req) this.current = null;
    this.state.requests += 1;
    if (this.pendingExit !== null) {
      this.exit(this.pendingExit);
      return;
    }
    if (this.queue.length) {
      setImmediate(() => this.drainQueue());
    }
  }

  drainQueue() {
    if (this.stopped || this.current || !this.queue.length) return;
    const [flags, id, payload] = this.queue.shift();
    try {
      this.startRequest(flags, id, payload);
    } catch (e) {
      if (e instanceof ProtocolError) this.protocolError(e);
      else throw e;
    }
  }

  async runStream(req, result) {
    const ctx = req.ctx;
    const name = req.name;
    if (result !== null && typeof result === 'object' && typeof result.then === 'function'
        && typeof result[Symbol.asyncIterator] !== 'function') {
      try {
        result = await result;
      } catch (e) {
        this.finish(req, false, errorFromException(e));
        return;
      }
    }
    let it;
    let isAsync = false;
    try {
      if (result != null && typeof result[Symbol.asyncIterator] === 'function') {
        it = result[Symbol.asyncIterator]();
        isAsync = true;
      } else if (result != null && typeof result[Symbol.iterator] === 'function') {
        it = result[Symbol.iterator]();
      }
    } catch (e) {
      this.finish(req, false, errorFromException(e));
      return;
    }
    if (!it || typeof it.next !== 'function') {
      const what = result === null ? 'null' : typeof result;
      this.finish(req, false, makeError('Internal', 'TypeError',
        `streaming command '${name}' returned ${what}, which is not iterable`));
      return;
    }
    const chunks = req.stream ? null : [];
    let lastTurn = performance.now();
    for (;;) {
      if (ctx._cancelled) {
        await closeIterator(it, isAsync);
        this.finish(req, false, streamCancelledError());
        return;
      }
      let step;
      try {
        step = isAsync ? await it.next() : it.next();
      } catch (e) {
        this.finish(req, false, errorFromException(e));
        return;
      }
      if (this.stopped || req.done) {
        await closeIterator(it, isAsync);
        return;
      }
      if (step === null || typeof step !== 'object') {
        this.finish(req, false, makeError('Internal', 'TypeError',
          `the iterator of streaming command '${name}' returned a non-object step`));
        return;
      }
      if (step.done) {
        this.finish(req, true, chunks || step.value);
        return;
      }
      if (chunks) {
        chunks.push(step.value);
      } else {
        const r = this.encodeValue(name, step.value, 'chunk');
        if (!r.ok) {
          await closeIterator(it, isAsync);
          this.finish(req, false, r.err);
          return;
        }
        this.sendEncoded(CHUNK, 0, req.id, r.enc);
        if (this.stopped) return;
      }
      const now = performance.now();
      if (now - lastTurn >= CANCEL_POLL_MS) {
        await turnEventLoop(); // lets a `cancel` (or `ping`) in
        lastTurn = performance.now();
      }
    }
  }

  // ---- calls ----

  callHost(ctx, fn, args) {
    if (typeof fn !== 'string') {
      throw new InvalidArgument(`the function to call must be a string, not ${jsonName(fn)}`,
                                { type: 'TypeError' });
    }
    if (ctx._done || !this.current || this.current.ctx !== ctx) {
      throw new FailedPrecondition(`request ${ctx.requestId} is over: no call can be made for it`,
                                   { details: { reason: 'request_over' } });
    }
    if (this.eof || this.stopped) {
      this.exit(0); // the host is gone: no reply can come
      return new Promise(() => {});
    }
    if (!isPlainObject(args)) {
      throw new InvalidArgument(`arguments of the call to ${fn} must be an object, not `
                                + `${jsonName(args)}`, { type: 'TypeError' });
    }
    let enc;
    try {
      enc = encode({ args, function: fn }); // keys sorted, like the host's JSON
    } catch (e) {
      throw new InvalidArgument(`arguments of the call to ${fn} are not JSON: ${e.message}`,
                                { type: e.name || 'TypeError' });
    }
    enc.jsonLength = Buffer.byteLength(enc.json);
    const size = enc.attachments ? 4 + enc.jsonLength + enc.attached : enc.jsonLength;
    if (size > this.maxPayload) {
      throw new ResourceExhausted(`the call to ${fn} is ${size} bytes, above the maximum payload `
                                  + `of ${this.maxPayload} bytes`,
                                  { type: 'FrameTooLarge', details: { reason: 'call_too_large' } });
    }
    const callId = this.nextCallId++;
    const promise = new Promise((resolve, reject) => {
      this.calls.set(callId, { resolve, reject, fn, ctx });
    });
    this.sendEncoded(CALL, 0, callId, enc);
    return promise;
  }
}

module.exports = { NativeBridge, VERSION, writeAllSync, openInput };
