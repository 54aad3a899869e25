'use strict';
// Errors a command throws on purpose, and the protocol's error objects
// (docs/protocol.md, "Error object").
//
// A command signals a failure with a specific code by throwing one of the
// SnakepitError subclasses; anything else becomes Internal. HostCallError is
// thrown by ctx.call (and ctx.session) when the host answers a call with an
// error; it is also an instance of the class of its code (a NotFound reply
// gives an error that is both `instanceof HostCallError` and `instanceof
// NotFound`).

const { encode } = require('./codec');

const CODES = new Set([
  'InvalidArgument', 'NotFound', 'DeadlineExceeded', 'ResourceExhausted',
  'Unavailable', 'Cancelled', 'FailedPrecondition', 'Internal',
]);

// Marks shared by every copy of this module (an adapter may load its own).
const SNAKEPIT_ERROR = Symbol.for('snakepit_bridge.SnakepitError');
const HOST_CALL_ERROR = Symbol.for('snakepit_bridge.HostCallError');

const MAX_MESSAGE_CHARS = 64 * 1024;
const MAX_TRACEBACK_CHARS = 256 * 1024;
const MAX_DETAILS_BYTES = 256 * 1024;

/**
 * Base class of the errors a command throws on purpose.
 *   new InvalidArgument('division by zero', {type: 'ZeroDivisionError',
 *                                           details: {reason: 'x'}})
 * `code`: the protocol code (the class's static `code`, or options.code);
 * `type`: the error object's `type` (default: the class name);
 * `details`: an object of JSON values ({} when none).
 */
class SnakepitError extends Error {
  constructor(message = '', options = {}) {
    super(message);
    const opts = options || {};
    Object.defineProperty(this, 'name', {
      value: new.target.name || 'SnakepitError', writable: true, configurable: true,
    });
    this.code = opts.code || new.target.code || 'Internal';
    this.errorType = opts.type || null;
    this.details = opts.details == null ? {} : opts.details;
    Object.defineProperty(this, SNAKEPIT_ERROR, { value: true });
  }

  /** details.reason, or null. */
  get reason() {
    const d = this.details;
    return d && typeof d === 'object' && d.reason !== undefined ? d.reason : null;
  }
}
SnakepitError.code = 'Internal';

class InvalidArgument extends SnakepitError {}
InvalidArgument.code = 'InvalidArgument';
class NotFound extends SnakepitError {}
NotFound.code = 'NotFound';
class FailedPrecondition extends SnakepitError {}
FailedPrecondition.code = 'FailedPrecondition';
class Unavailable extends SnakepitError {}
Unavailable.code = 'Unavailable';
class ResourceExhausted extends SnakepitError {}
ResourceExhausted.code = 'ResourceExhausted';
class Cancelled extends SnakepitError {}
Cancelled.code = 'Cancelled';
class DeadlineExceeded extends SnakepitError {}
DeadlineExceeded.code = 'DeadlineExceeded';
class Internal extends SnakepitError {}
Internal.code = 'Internal';

function initHostCall(err, opts) {
  err.function = (opts && opts.function) || null;
  Object.defineProperty(err, HOST_CALL_ERROR, { value: true });
}

/**
 * The host answered a call with an error: `code`, `details`, `reason`,
 * message, and `function` (the function called).
 */
class HostCallError extends SnakepitError {
  constructor(message = '', options = {}) {
    super(message, options);
    initHostCall(this, options);
  }

  static [Symbol.hasInstance](obj) {
    return obj != null && typeof obj === 'object' && obj[HOST_CALL_ERROR] === true;
  }
}
HostCallError.code = 'Internal';

const CODE_CLASSES = {
  InvalidArgument, NotFound, FailedPrecondition, Unavailable, ResourceExhausted,
  Cancelled, DeadlineExceeded,
};

const HOST_CALL_CLASSES = {};
for (const [code, Base] of Object.entries(CODE_CLASSES)) {
  // Named HostCallError (the error object's `type` if it escapes), a
  // subclass of the code's class; `instanceof HostCallError` via the mark.
  const cls = class HostCallError extends Base {
    constructor(message = '', options = {}) {
      super(message, Object.assign({}, options, { code }));
      initHostCall(this, options);
    }
  };
  cls.code = code;
  HOST_CALL_CLASSES[code] = cls;
}

/** The class ctx.call throws for an error reply with `code`. */
function hostCallErrorClass(code) {
  return HOST_CALL_CLASSES[code] || HostCallError;
}

/** The HostCallError for the error object of a reply to `fn`. */
function hostCallError(fn, err) {
  if (err === null || typeof err !== 'object' || Array.isArray(err)) {
    err = typeof err === 'string' ? { message: err } : {};
  }
  const code = CODES.has(err.code) ? err.code : 'Internal';
  const message = typeof err.message === 'string' ? err.message : `call to ${fn} failed`;
  const details = err.details && typeof err.details === 'object' && !Array.isArray(err.details)
    ? err.details : {};
  const type = typeof err.type === 'string' && err.type ? err.type : null;
  return new (hostCallErrorClass(code))(message, { code, type, details, function: fn });
}

function clip(text, limit) {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}... [${text.length - limit} more characters]`;
}

/** An error object; traceback omitted when null, details when empty. */
function makeError(code, type, message, traceback = null, details = null) {
  const err = { code, type, message: clip(String(message), MAX_MESSAGE_CHARS) };
  if (traceback != null) err.traceback = clip(String(traceback), MAX_TRACEBACK_CHARS);
  if (details && typeof details === 'object' && Object.keys(details).length) err.details = details;
  return err;
}

function checkedDetails(details) {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    return { invalid_details: `details must be an object, not ${typeof details}` };
  }
  let size;
  try {
    const enc = encode(details);
    if (enc.attachments) throw new TypeError('details hold byte strings');
    size = Buffer.byteLength(enc.json);
  } catch (e) {
    return { invalid_details: clip(`details are not JSON-serializable: ${e && e.name}: `
                                   + `${e && e.message}`, MAX_MESSAGE_CHARS) };
  }
  if (size > MAX_DETAILS_BYTES) {
    return { invalid_details: `details are ${size} bytes of JSON, above ${MAX_DETAILS_BYTES}` };
  }
  return details;
}

function isSnakepitError(e) {
  return e != null && typeof e === 'object' && e[SNAKEPIT_ERROR] === true;
}

function safeString(v) {
  try {
    return String(v);
  } catch (_) {
    return '<unprintable>';
  }
}

/** The error object for `e` (thrown by a command). */
function errorFromException(e, prefix = '') {
  let code = 'Internal';
  let type;
  let details = null;
  let message;
  let traceback = null;
  if (e instanceof Error || (e != null && typeof e === 'object' && 'message' in e)) {
    type = (typeof e.name === 'string' && e.name) || 'Error';
    message = safeString(e.message);
    try {
      traceback = typeof e.stack === 'string' ? e.stack : null;
    } catch (_) {
      traceback = null;
    }
  } else {
    type = e === null ? 'null' : (typeof e === 'object' && e.constructor && e.constructor.name)
      || typeof e;
    message = safeString(e);
  }
  if (isSnakepitError(e)) {
    code = CODES.has(e.code) ? e.code : 'Internal';
    if (e.errorType) type = String(e.errorType);
    if (e.details && (typeof e.details !== 'object' || Object.keys(e.details).length)) {
      details = checkedDetails(e.details);
    }
  }
  return makeError(code, type, prefix + message, traceback, details);
}

module.exports = {
  CODES, SnakepitError, InvalidArgument, NotFound, FailedPrecondition, Unavailable,
  ResourceExhausted, Cancelled, DeadlineExceeded, Internal, HostCallError,
  hostCallErrorClass, hostCallError, makeError, errorFromException, isSnakepitError,
  CODE_CLASSES,
};
