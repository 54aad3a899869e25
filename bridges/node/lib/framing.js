'use strict';
// Native protocol framing (docs/protocol.md, "Framing").
//
//   frame = length:u32be kind:u8 flags:u8 reserved:u16 id:u64be payload
//   length counts header + payload (>= 12).
//
// FrameParser turns the byte stream from the host into frames and reports a
// malformed one (bad length, unknown kind or flags) as a ProtocolError as
// soon as its header is readable.

const HELLO = 1;
const REQUEST = 2;
const RESPONSE = 3;
const CHUNK = 4;
const END = 5;
const CALL = 6;
const REPLY = 7;
const CANCEL = 8;
const PING = 9;
const PONG = 10;
const SHUTDOWN = 11;

const KIND_NAMES = {
  1: 'hello', 2: 'request', 3: 'response', 4: 'chunk', 5: 'end', 6: 'call',
  7: 'reply', 8: 'cancel', 9: 'ping', 10: 'pong', 11: 'shutdown',
};
// What a worker may receive.
const HOST_TO_WORKER = new Set([REQUEST, REPLY, CANCEL, PING, SHUTDOWN]);
const ALL_KINDS = new Set(Object.keys(KIND_NAMES).map(Number));

const FLAG_ERROR = 0x01;
const FLAG_BINARY = 0x02;
const FLAG_STREAM = 0x04;
const KNOWN_FLAGS = FLAG_ERROR | FLAG_BINARY | FLAG_STREAM;

const HEADER_SIZE = 12; // counted in length: kind..id
const PREFIX_SIZE = 16; // length field + header
const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
// A partial frame needing more than this many further bytes gets a buffer of
// its own, filled in place (no repeated concatenation).
const LARGE_FRAME = 64 * 1024;
const EMPTY = Buffer.alloc(0);

class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function toBigId(id) {
  return typeof id === 'bigint' ? id : BigInt(id);
}

/** The 16 bytes before a payload of `payloadSize` bytes. */
function encodeHeader(kind, flags, id, payloadSize, target, offset = 0) {
  const buf = target || Buffer.allocUnsafe(PREFIX_SIZE);
  buf.writeUInt32BE(HEADER_SIZE + payloadSize, offset);
  buf[offset + 4] = kind;
  buf[offset + 5] = flags;
  buf.writeUInt16BE(0, offset + 6);
  buf.writeBigUInt64BE(toBigId(id), offset + 8);
  return buf;
}

/** One frame as a Buffer; payload a Buffer/Uint8Array (or empty). */
function encodeFrame(kind, flags, id, payload) {
  const size = payload ? payload.length : 0;
  const buf = Buffer.allocUnsafe(PREFIX_SIZE + size);
  encodeHeader(kind, flags, id, size, buf, 0);
  if (size) buf.set(payload, PREFIX_SIZE);
  return buf;
}

function checkLength(length, maxFrame) {
  if (length < HEADER_SIZE) {
    throw new ProtocolError(`frame length ${length} is below the header size ${HEADER_SIZE}`);
  }
  if (length > maxFrame) {
    throw new ProtocolError(`frame length ${length} exceeds the maximum ${maxFrame}`);
  }
}

function checkKindFlags(kind, flags, kinds) {
  if (!ALL_KINDS.has(kind) || (kinds && !kinds.has(kind))) {
    throw new ProtocolError(`unexpected frame kind ${kind} (${KIND_NAMES[kind] || 'unknown'})`);
  }
  if (flags & ~KNOWN_FLAGS) {
    const bits = (flags & ~KNOWN_FLAGS).toString(16).padStart(2, '0');
    throw new ProtocolError(`unknown flag bits 0x${bits} on ${KIND_NAMES[kind]} frame`);
  }
  if ((flags & (FLAG_ERROR | FLAG_BINARY)) === (FLAG_ERROR | FLAG_BINARY)) {
    throw new ProtocolError(`${KIND_NAMES[kind]} frame with both ERROR and BINARY`);
  }
}

/** Parse exactly one whole frame: {kind, flags, id (BigInt), payload}. */
function decodeFrame(data, maxFrame = DEFAULT_MAX_FRAME, kinds = null) {
  if (data.length < 4) throw new ProtocolError(`truncated frame: ${data.length} bytes`);
  const length = data.readUInt32BE(0);
  checkLength(length, maxFrame);
  if (data.length !== 4 + length) {
    throw new ProtocolError(`frame length ${length} does not match ${data.length - 4} bytes of data`);
  }
  const kind = data[4];
  const flags = data[5];
  checkKindFlags(kind, flags, kinds);
  return { kind, flags, id: data.readBigUInt64BE(8), payload: data.subarray(PREFIX_SIZE) };
}

/**
 * Incremental frame parser: push() the bytes as they come; onFrame(kind,
 * flags, id, payload) is called for each complete frame. push() throws
 * ProtocolError on a malformed frame (and must not be called again).
 */
class FrameParser {
  constructor(onFrame, maxFrame = DEFAULT_MAX_FRAME, kinds = HOST_TO_WORKER) {
    this.onFrame = onFrame;
    this.maxFrame = maxFrame;
    this.kinds = kinds;
    this.buf = Buffer.alloc(0);
    // A large frame being filled in place.
    this.large = null; // {kind, flags, id, payload, have}
  }

  push(chunk) {
    while (chunk.length) {
      if (this.large) {
        const large = this.large;
        const n = Math.min(chunk.length, large.payload.length - large.have);
        chunk.copy(large.payload, large.have, 0, n);
        large.have += n;
        chunk = chunk.subarray(n);
        if (large.have === large.payload.length) {
          this.large = null;
          this.onFrame(large.kind, large.flags, large.id, large.payload);
        }
        continue;
      }
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      chunk = this._parse();
    }
  }

  // Emits the complete frames in this.buf; returns the bytes to go into a
  // large frame just started (empty otherwise).
  _parse() {
    let buf = this.buf;
    for (;;) {
      if (buf.length < 4) break;
      const length = buf.readUInt32BE(0);
      checkLength(length, this.maxFrame);
      if (buf.length < PREFIX_SIZE) break;
      const kind = buf[4];
      const flags = buf[5];
      checkKindFlags(kind, flags, this.kinds);
      const id = buf.readBigUInt64BE(8);
      const end = 4 + length;
      if (buf.length >= end) {
        const payload = buf.subarray(PREFIX_SIZE, end);
        buf = buf.subarray(end);
        this.buf = buf;
        this.onFrame(kind, flags, id, payload);
        buf = this.buf; // (unchanged unless onFrame re-entered)
        continue;
      }
      if (end - buf.length > LARGE_FRAME) {
        const payload = Buffer.allocUnsafe(length - HEADER_SIZE);
        const have = buf.length - PREFIX_SIZE;
        buf.copy(payload, 0, PREFIX_SIZE);
        this.large = { kind, flags, id, payload, have };
        this.buf = EMPTY;
        return EMPTY;
      }
      break;
    }
    this.buf = buf;
    return EMPTY;
  }
}

module.exports = {
  HELLO, REQUEST, RESPONSE, CHUNK, END, CALL, REPLY, CANCEL, PING, PONG, SHUTDOWN,
  KIND_NAMES, HOST_TO_WORKER, FLAG_ERROR, FLAG_BINARY, FLAG_STREAM, KNOWN_FLAGS,
  HEADER_SIZE, PREFIX_SIZE, DEFAULT_MAX_FRAME,
  ProtocolError, encodeHeader, encodeFrame, decodeFrame, FrameParser, checkKindFlags,
};
