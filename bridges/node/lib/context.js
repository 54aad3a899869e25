'use strict';
// The per-request Context handed to commands, and ctx.session (mirrors the
// Python bridge's context.py and session.py).

const { FailedPrecondition, InvalidArgument, SnakepitError } = require('./errors');

/** State of the running bridge, reachable from commands as ctx.bridge. */
class BridgeState {
  constructor(adapter = null, workerId = null) {
    this.adapter = adapter;
    this.workerId = workerId == null ? (process.env.SNAKEPIT_WORKER_ID || '') : workerId;
    this.startedAt = performance.now(); // ms
    this.requests = 0; // requests completed so far
    // Set by the runtime: (ctx, function, args) -> Promise of the result.
    this.callHost = null;
  }

  get commandNames() {
    return this.adapter ? this.adapter.commandNames : [];
  }
}

function badReply(fn, result) {
  let text;
  try {
    text = JSON.stringify(result);
  } catch (_) {
    text = String(result);
  }
  if (text === undefined) text = String(result);
  if (text.length > 200) text = `${text.slice(0, 200)}...`;
  return new SnakepitError(`malformed reply from the host to ${fn}: ${text}`,
                           { details: { reason: 'bad_reply' } });
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * What a command receives as its first argument: workerId, requestId,
 * command, sessionId (null without a session), startedAt (performance.now()
 * at the start, ms), cancelled (true once the host sent `cancel` for this
 * request), signal (an AbortSignal aborted at that moment), bridge
 * (BridgeState), session, call(), functions().
 */
class Context {
  constructor(requestId = 0, command = '', bridge = null, sessionId = null) {
    this.bridge = bridge || new BridgeState();
    this.workerId = this.bridge.workerId;
    this.requestId = requestId;
    this.command = command;
    this.sessionId = sessionId == null ? null : sessionId;
    this.startedAt = performance.now();
    this._cancelled = false;
    this._abort = null;
    this._session = null;
    this._done = false; // set by the runtime once the request is answered
  }

  /** True once a `cancel` frame for this request arrived. */
  get cancelled() {
    return this._cancelled;
  }

  /** An AbortSignal aborted when the request is cancelled. */
  get signal() {
    if (!this._abort) {
      this._abort = new AbortController();
      if (this._cancelled) this._abort.abort();
    }
    return this._abort.signal;
  }

  /** Mark this request cancelled (the runtime calls this). */
  cancel() {
    if (this._cancelled) return;
    this._cancelled = true;
    if (this._abort) this._abort.abort();
  }

  /** The request's session data (see Session). */
  get session() {
    if (!this._session) this._session = new Session(this);
    return this._session;
  }

  /**
   * Call `fn` on the host with `args` (an object of JSON values, Buffers
   * allowed) on behalf of this request; resolves to the reply's result.
   * Rejects with a HostCallError when the host replies with an error.
   */
  async call(fn, args = {}) {
    const callHost = this.bridge.callHost;
    if (!callHost) {
      throw new FailedPrecondition('this worker cannot call the host',
                                   { details: { reason: 'no_calls' } });
    }
    return callHost(this, fn, args == null ? {} : args);
  }

  /** The host functions this request may call: [{name, description, scope}]. */
  async functions() {
    const result = await this.call('host.functions', {});
    const fns = isPlainObject(result) ? result.functions : undefined;
    if (!Array.isArray(fns)) throw badReply('host.functions', result);
    return fns;
  }

  toString() {
    return `Context(workerId=${JSON.stringify(this.workerId)}, requestId=${this.requestId}, `
      + `command=${JSON.stringify(this.command)}, sessionId=${JSON.stringify(this.sessionId)})`;
  }
}

function checkKey(key) {
  if (typeof key !== 'string') {
    throw new InvalidArgument(`session keys are strings, not ${key === null ? 'null' : typeof key}`,
                              { type: 'TypeError' });
  }
}

function values(result) {
  const v = isPlainObject(result) ? result.values : undefined;
  if (!isPlainObject(v)) throw badReply('session.read', result);
  return v;
}

function version(result, fn = 'session.update') {
  const v = isPlainObject(result) ? result.version : undefined;
  if (!Number.isInteger(v)) throw badReply(fn, result);
  return v;
}

/**
 * The session of one request (ctx.session): each method is one call to the
 * host and returns a Promise. Without a session each rejects with
 * FailedPrecondition (reason no_session) and sends nothing.
 */
class Session {
  constructor(ctx) {
    this._ctx = ctx;
  }

  /** The session id, or null. */
  get id() {
    return this._ctx.sessionId;
  }

  /** The value stored under `key`, or `defaultValue` (null) if none. */
  async get(key, defaultValue = null) {
    checkKey(key);
    const v = values(await this._call('session.read', { keys: [key] }));
    return Object.prototype.hasOwnProperty.call(v, key) ? v[key] : defaultValue;
  }

  /** {values, version}: the present `keys` and their values; no keys: all. */
  async read(...keys) {
    if (keys.length === 1 && Array.isArray(keys[0])) keys = keys[0];
    keys.forEach(checkKey);
    const result = await this._call('session.read', keys.length ? { keys } : {});
    return { values: values(result), version: version(result, 'session.read') };
  }

  /** Every key and value, as an object. */
  async items() {
    return values(await this._call('session.read', {}));
  }

  async toDict() {
    return this.items();
  }

  /** Store `value` under `key`; resolves to the new version. */
  async set(key, value) {
    checkKey(key);
    return version(await this._call('session.update', { set: { [key]: value } }));
  }

  /** Remove `key` (no error if absent); resolves to the new version. */
  async delete(key) {
    checkKey(key);
    return version(await this._call('session.update', { delete: [key] }));
  }

  /**
   * update({set: {k: v}, delete: [k], ifVersion: n}): all or nothing;
   * resolves to the new version. With ifVersion (or if_version) a stale
   * version rejects with HostCallError FailedPrecondition/version_mismatch.
   */
  async update(options = {}) {
    const opts = options || {};
    const args = {};
    if (opts.set != null) {
      if (!isPlainObject(opts.set)) {
        throw new InvalidArgument(`set must be an object, not ${typeof opts.set}`,
                                  { type: 'TypeError' });
      }
      args.set = opts.set;
    }
    if (opts.delete != null) {
      if (!Array.isArray(opts.delete)) {
        throw new InvalidArgument(`delete must be an array of keys, not ${typeof opts.delete}`,
                                  { type: 'TypeError' });
      }
      opts.delete.forEach(checkKey);
      args.delete = opts.delete;
    }
    const ifVersion = opts.ifVersion != null ? opts.ifVersion : opts.if_version;
    if (ifVersion != null) args.if_version = ifVersion;
    return version(await this._call('session.update', args));
  }

  /** The session.info result (id, created, last_accessed, ttl_s, ...). */
  async info() {
    const result = await this._call('session.info', {});
    if (!isPlainObject(result)) throw badReply('session.info', result);
    return result;
  }

  async _call(fn, args) {
    const ctx = this._ctx;
    if (!ctx.bridge.callHost) {
      throw new FailedPrecondition('this worker cannot call the host, so it has no session data',
                                   { details: { reason: 'no_calls' } });
    }
    if (ctx.sessionId == null) {
      throw new FailedPrecondition('this request has no session (use execute_in_session)',
                                   { details: { reason: 'no_session' } });
    }
    return ctx.bridge.callHost(ctx, fn, args);
  }
}

module.exports = { BridgeState, Context, Session, isPlainObject };
