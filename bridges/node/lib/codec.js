'use strict';
// JSON encoding/decoding and byte strings (docs/protocol.md, "Binary
// payloads").
//
// encode(value) -> {json, attachments, attached}: compact JSON text; when the
// value holds byte strings (Buffer, any TypedArray's bytes, ArrayBuffer,
// DataView) each becomes {"$bytes": [offset, length]} and is listed, not
// copied, in attachments. Values without byte strings, non-finite numbers or
// BigInts go straight through JSON.stringify (a quick scan decides). NaN and
// Infinity are refused (they are not JSON); a BigInt is written as an
// integer.
//
// decode(payload) / decodeBinary(payload): UTF-8 JSON (strictly decoded) ->
// value; decodeBinary replaces the placeholders by Buffers (views of the
// payload, not copies).

const PLACEHOLDER_KEY = '$bytes';

class BinaryPayloadError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BinaryPayloadError';
  }
}

let utf8Decoder = null;
try {
  utf8Decoder = new TextDecoder('utf-8', { fatal: true });
} catch (_) {
  utf8Decoder = null; // a Node without ICU: lenient decoding
}

function utf8(bytes) {
  if (utf8Decoder) {
    try {
      return utf8Decoder.decode(bytes);
    } catch (_) {
      throw new SyntaxError('payload is not valid UTF-8');
    }
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
}

function isBytes(v) {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function asUint8(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

// True when JSON.stringify cannot be used as is: byte strings, NaN/Infinity,
// BigInt, objects with toJSON, very deep (possibly circular) values.
function needsCustom(value, depth) {
  if (value === null) return false;
  const t = typeof value;
  if (t === 'number') return !Number.isFinite(value);
  if (t === 'bigint') return true;
  if (t !== 'object') return false;
  if (depth > 200) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && (typeof v === 'object' || typeof v === 'number' || typeof v === 'bigint')
          && needsCustom(v, depth + 1)) return true;
    }
    return false;
  }
  if (isBytes(value) || typeof value.toJSON === 'function') return true;
  for (const k in value) {
    if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
    const v = value[k];
    if (v !== null && (typeof v === 'object' || typeof v === 'number' || typeof v === 'bigint')
        && needsCustom(v, depth + 1)) return true;
  }
  return false;
}

function typeName(v) {
  if (v === null) return 'null';
  if (typeof v === 'object' || typeof v === 'function') {
    return (v.constructor && v.constructor.name) || 'Object';
  }
  return typeof v;
}

// JSON.stringify's rules, plus byte strings, refusal of non-finite numbers,
// BigInts as integers, circular values refused.
class Encoder {
  constructor() {
    this.attachments = [];
    this.offset = 0;
    this.placeholderLike = false;
    this.stack = new Set();
  }

  encode(value, key, holder) {
    if (value !== null && typeof value === 'object' && typeof value.toJSON === 'function'
        && !isBytes(value)) {
      value = value.toJSON(key);
    }
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string': return JSON.stringify(value);
      case 'boolean': return value ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(value)) {
          throw new RangeError(`${value} is not JSON (NaN and Infinity are refused)`);
        }
        return JSON.stringify(value);
      case 'bigint': return value.toString();
      case 'undefined': case 'function': case 'symbol':
        return undefined;
      default: break;
    }
    if (isBytes(value)) {
      const bytes = asUint8(value);
      this.attachments.push(bytes);
      const text = `{"$bytes":[${this.offset},${bytes.length}]}`;
      this.offset += bytes.length;
      return text;
    }
    if (this.stack.has(value)) throw new TypeError('Converting circular structure to JSON');
    this.stack.add(value);
    let out;
    if (Array.isArray(value)) {
      const parts = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const item = this.encode(value[i], String(i), value);
        parts[i] = item === undefined ? 'null' : item;
      }
      out = `[${parts.join(',')}]`;
    } else {
      const parts = [];
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === PLACEHOLDER_KEY) this.placeholderLike = true;
      for (const k of keys) {
        const item = this.encode(value[k], k, value);
        if (item !== undefined) parts.push(`${JSON.stringify(k)}:${item}`);
      }
      out = `{${parts.join(',')}}`;
    }
    this.stack.delete(value);
    return out;
  }
}

/**
 * value -> {json: string, attachments: Uint8Array[] | null, attached: bytes
 * in attachments}. Throws TypeError/RangeError when the value is not JSON.
 */
function encode(value) {
  if (!needsCustom(value, 0)) {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`${typeName(value)} is not JSON-serializable`);
    return { json, attachments: null, attached: 0 };
  }
  const enc = new Encoder();
  const json = enc.encode(value, '', { '': value });
  if (json === undefined) throw new TypeError(`${typeName(value)} is not JSON-serializable`);
  if (!enc.attachments.length) return { json, attachments: null, attached: 0 };
  if (enc.placeholderLike) {
    throw new TypeError('an object whose only key is "$bytes" cannot be sent in a value '
                        + 'that holds byte strings');
  }
  return { json, attachments: enc.attachments, attached: enc.offset };
}

/** Plain JSON payload -> value. Throws SyntaxError. */
function decode(payload) {
  return JSON.parse(utf8(payload));
}

function short(value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (_) {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length <= 80 ? text : `${text.slice(0, 80)}...`;
}

function replacePlaceholders(value, attachments) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && typeof v === 'object') value[i] = replacePlaceholders(v, attachments);
    }
    return value;
  }
  let count = 0;
  for (const k in value) {
    count++;
    const v = value[k];
    if (v !== null && typeof v === 'object') value[k] = replacePlaceholders(v, attachments);
  }
  if (count === 1 && Object.prototype.hasOwnProperty.call(value, PLACEHOLDER_KEY)) {
    const span = value[PLACEHOLDER_KEY];
    if (!Array.isArray(span) || span.length !== 2 || !Number.isSafeInteger(span[0])
        || !Number.isSafeInteger(span[1]) || span[0] < 0 || span[1] < 0) {
      throw new BinaryPayloadError('a {"$bytes": ...} placeholder must hold [offset, length], '
                                   + `two non-negative integers, not ${short(span)}`);
    }
    const [start, length] = span;
    if (start + length > attachments.length) {
      throw new BinaryPayloadError(`byte string [${start}, +${length}] lies outside the `
                                   + `${attachments.length} attachment bytes`);
    }
    return attachments.subarray(start, start + length);
  }
  return value;
}

/**
 * The payload of a BINARY frame (json_length:u32be, JSON, attachments) ->
 * the value, with a Buffer for each placeholder. Throws BinaryPayloadError
 * for a bad layout or placeholder, SyntaxError for bad JSON.
 */
function decodeBinary(payload) {
  const buf = Buffer.isBuffer(payload) ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (buf.length < 4) {
    throw new BinaryPayloadError(`binary payload of ${buf.length} bytes has no JSON length`);
  }
  const jsonLength = buf.readUInt32BE(0);
  if (jsonLength > buf.length - 4) {
    throw new BinaryPayloadError(`binary payload announces ${jsonLength} bytes of JSON but `
                                 + `holds ${buf.length - 4}`);
  }
  const value = JSON.parse(utf8(buf.subarray(4, 4 + jsonLength)));
  return replacePlaceholders(value, buf.subarray(4 + jsonLength));
}

/** A deep copy of `value` whose objects have sorted keys (like the host). */
function sortKeys(value) {
  if (value === null || typeof value !== 'object' || isBytes(value)) return value;
  if (Array.isArray(value)) return value.map(sortKeys);
  const out = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
  return out;
}

/** The JSON name of a value for messages ("a string", "an array", ...). */
function jsonName(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return 'an array';
  if (isBytes(value)) return 'bytes';
  return 'an object';
}

module.exports = {
  PLACEHOLDER_KEY, BinaryPayloadError, encode, decode, decodeBinary, sortKeys, jsonName,
  isBytes, asUint8, short,
};
