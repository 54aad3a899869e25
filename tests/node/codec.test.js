'use strict';
// Golden frames, framing edge cases and the codec, in process.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { framing, codec, ROOT, BRIDGE } = require('./harness');
const errors = require(path.join(BRIDGE, 'lib', 'errors.js'));

const GOLDEN = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'golden_frames.json'), 'utf8'));

// The fixture's decoded payload with each placeholder replaced by its bytes.
function withBytes(value, attachments) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => withBytes(v, attachments));
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '$bytes') {
    const [start, length] = value.$bytes;
    return attachments.subarray(start, start + length);
  }
  const out = {};
  for (const k of keys) out[k] = withBytes(value[k], attachments);
  return out;
}

function encodeGolden(entry) {
  if (entry.payload === null) return framing.encodeFrame(entry.kind, entry.flags, BigInt(entry.id), null);
  const attachments = Buffer.from(entry.attachments_hex || '', 'hex');
  const value = codec.sortKeys(withBytes(entry.payload, attachments));
  const enc = codec.encode(value);
  let payload = Buffer.from(enc.json, 'utf8');
  let flags = entry.flags;
  if (enc.attachments) {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length);
    payload = Buffer.concat([head, payload, ...enc.attachments]);
    flags |= framing.FLAG_BINARY;
  }
  return framing.encodeFrame(entry.kind, flags, BigInt(entry.id), payload);
}

test('golden frames: there are some', () => {
  assert.ok(GOLDEN.length >= 20);
});

for (const entry of GOLDEN) {
  test(`golden frame ${entry.name}: encodes byte for byte`, () => {
    assert.strictEqual(encodeGolden(entry).toString('hex'), entry.hex);
  });

  test(`golden frame ${entry.name}: decodes`, () => {
    const f = framing.decodeFrame(Buffer.from(entry.hex, 'hex'));
    assert.strictEqual(f.kind, entry.kind);
    assert.strictEqual(f.flags, entry.flags);
    assert.strictEqual(f.id, BigInt(entry.id));
    if (entry.payload === null) {
      assert.strictEqual(f.payload.length, 0);
      return;
    }
    const attachments = Buffer.from(entry.attachments_hex || '', 'hex');
    const value = f.flags & framing.FLAG_BINARY ? codec.decodeBinary(f.payload) : codec.decode(f.payload);
    assert.deepStrictEqual(value, withBytes(entry.payload, attachments));
  });
}

test('golden frames: the parser splits a stream of them at any chunk size', () => {
  const all = Buffer.concat(GOLDEN.map((e) => Buffer.from(e.hex, 'hex')));
  for (const size of [1, 7, 16, 100, all.length]) {
    const got = [];
    const parser = new framing.FrameParser((kind, flags, id) => got.push([kind, flags, id]), 1 << 20, null);
    for (let i = 0; i < all.length; i += size) parser.push(all.subarray(i, i + size));
    assert.deepStrictEqual(got, GOLDEN.map((e) => [e.kind, e.flags, BigInt(e.id)]));
  }
});

test('parser: a large frame arriving in pieces is reassembled', () => {
  const payload = Buffer.alloc(300000, 7);
  const data = framing.encodeFrame(framing.REQUEST, 0, 5n, payload);
  const got = [];
  const parser = new framing.FrameParser((k, f, id, p) => got.push(p), 1 << 20);
  for (let i = 0; i < data.length; i += 65536) parser.push(data.subarray(i, i + 65536));
  assert.strictEqual(got.length, 1);
  assert.ok(got[0].equals(payload));
});

function header(length, kind, flags) {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(length, 0);
  b[4] = kind;
  b[5] = flags;
  return b;
}

const BAD_FRAMES = {
  'length below 12': [header(11, 9, 0), /below the header size/],
  'length above the maximum': [header(1025, 2, 0), /exceeds the maximum 1024/],
  'unknown kind': [header(12, 99, 0), /unexpected frame kind 99/],
  'kind 0': [header(12, 0, 0), /unexpected frame kind 0/],
  'worker-to-host kind': [header(12, framing.RESPONSE, 0), /unexpected frame kind 3 \(response\)/],
  'unknown flag bit': [header(12, framing.PING, 0x08), /unknown flag bits 0x08/],
  'ERROR and BINARY': [header(12, framing.REPLY, 0x03), /both ERROR and BINARY/],
};

for (const [name, [bytes, message]] of Object.entries(BAD_FRAMES)) {
  test(`parser: ${name} is a protocol error`, () => {
    const parser = new framing.FrameParser(() => assert.fail('no frame expected'), 1024);
    assert.throws(() => parser.push(bytes), (e) => e instanceof framing.ProtocolError && message.test(e.message));
  });
}

test('parser: a bad length is reported from its first 4 bytes', () => {
  const parser = new framing.FrameParser(() => {}, 1024);
  assert.throws(() => parser.push(Buffer.from([0, 0, 0, 5])), framing.ProtocolError);
});

test('codec: byte strings become placeholders, in order, without copies', () => {
  const a = Buffer.from('abc');
  const b = new Uint8Array([1, 2]);
  const enc = codec.encode({ x: [a, { y: b }], z: Buffer.alloc(0) });
  assert.strictEqual(enc.json, '{"x":[{"$bytes":[0,3]},{"y":{"$bytes":[3,2]}}],"z":{"$bytes":[5,0]}}');
  assert.strictEqual(enc.attached, 5);
  assert.strictEqual(enc.attachments[0], a);
  assert.strictEqual(enc.attachments[1], b);
});

test('codec: values without bytes are plain JSON', () => {
  const enc = codec.encode({ s: 'é ✓', n: [1, 2.5, null, true], o: {} });
  assert.strictEqual(enc.json, '{"s":"é ✓","n":[1,2.5,null,true],"o":{}}');
  assert.strictEqual(enc.attachments, null);
});

test('codec: NaN, Infinity and circular values are refused; BigInt is an integer', () => {
  assert.throws(() => codec.encode({ a: NaN }), RangeError);
  assert.throws(() => codec.encode([Infinity]), RangeError);
  const o = {};
  o.self = [o];
  assert.throws(() => codec.encode(o), TypeError);
  assert.strictEqual(codec.encode({ id: 18446744073709551615n }).json, '{"id":18446744073709551615}');
});

test('codec: a "$bytes" object next to byte strings is refused', () => {
  assert.throws(() => codec.encode({ a: Buffer.from('x'), b: { $bytes: [0, 1] } }), /only key is "\$bytes"/);
  assert.strictEqual(codec.encode({ b: { $bytes: [0, 1] } }).json, '{"b":{"$bytes":[0,1]}}');
});

function binaryPayload(json, attachments = Buffer.alloc(0)) {
  const j = Buffer.from(json);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(j.length);
  return Buffer.concat([head, j, attachments]);
}

test('codec: malformed binary payloads are errors', () => {
  const cases = [
    [Buffer.from([0, 0]), /no JSON length/],
    [Buffer.from([0, 0, 0, 9, 0x7b, 0x7d]), /announces 9 bytes/],
    [binaryPayload('{"$bytes":[0,4]}', Buffer.from('abc')), /outside the 3 attachment bytes/],
    [binaryPayload('{"$bytes":[-1,1]}', Buffer.from('abc')), /two non-negative integers/],
    [binaryPayload('{"$bytes":[0]}', Buffer.from('abc')), /two non-negative integers/],
    [binaryPayload('{"$bytes":"x"}'), /two non-negative integers/],
    [binaryPayload('{"$bytes":[0.5,1]}', Buffer.from('abc')), /two non-negative integers/],
  ];
  for (const [payload, message] of cases) {
    assert.throws(() => codec.decodeBinary(payload), (e) => e instanceof codec.BinaryPayloadError && message.test(e.message));
  }
  assert.throws(() => codec.decodeBinary(binaryPayload('{nope')), SyntaxError);
});

test('codec: binary decoding keeps ordinary objects and empty ranges', () => {
  const v = codec.decodeBinary(binaryPayload('{"a":{"$bytes":[1,0]},"b":{"$bytes":[0,1],"x":1}}', Buffer.from('z')));
  assert.deepStrictEqual(v, { a: Buffer.alloc(0), b: { $bytes: [0, 1], x: 1 } });
});

test('codec: invalid UTF-8 is refused', () => {
  assert.throws(() => codec.decode(Buffer.from([0x22, 0xff, 0x22])));
});

test('errors: classes, codes and error objects', () => {
  const e = new errors.InvalidArgument('division by zero', { type: 'ZeroDivisionError' });
  assert.ok(e instanceof errors.SnakepitError && e instanceof Error);
  const obj = errors.errorFromException(e);
  assert.strictEqual(obj.code, 'InvalidArgument');
  assert.strictEqual(obj.type, 'ZeroDivisionError');
  assert.strictEqual(obj.message, 'division by zero');
  assert.match(obj.traceback, /division by zero/);
  assert.strictEqual(obj.details, undefined);
  const plain = errors.errorFromException(new RangeError('r'));
  assert.strictEqual(plain.code, 'Internal');
  assert.strictEqual(plain.type, 'RangeError');
  const withDetails = errors.errorFromException(new errors.Unavailable('u', { details: { reason: 'x' } }));
  assert.deepStrictEqual(withDetails.details, { reason: 'x' });
  for (const code of ['NotFound', 'FailedPrecondition', 'ResourceExhausted', 'Cancelled', 'DeadlineExceeded', 'Unavailable', 'Internal']) {
    assert.strictEqual(errors.errorFromException(new errors[code]('m')).code, code);
  }
});

test('errors: a HostCallError is also an instance of its code\'s class', () => {
  const e = errors.hostCallError('session.update', {
    code: 'FailedPrecondition', message: 'stale', details: { reason: 'version_mismatch' },
  });
  assert.ok(e instanceof errors.HostCallError);
  assert.ok(e instanceof errors.FailedPrecondition);
  assert.ok(!(e instanceof errors.NotFound));
  assert.strictEqual(e.name, 'HostCallError');
  assert.strictEqual(e.reason, 'version_mismatch');
  assert.strictEqual(e.function, 'session.update');
  const internal = errors.hostCallError('f', { code: 'Bogus' });
  assert.strictEqual(internal.code, 'Internal');
  assert.strictEqual(internal.message, 'call to f failed');
  assert.ok(internal instanceof errors.HostCallError);
  assert.ok(!(new errors.NotFound('x') instanceof errors.HostCallError));
  assert.strictEqual(errors.errorFromException(e).code, 'FailedPrecondition');
});
