'use strict';
// End to end: the bridge as a child process with its protocol on fds 3/4.

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const path = require('path');
const { Worker, framing } = require('./harness');

const {
  REQUEST, RESPONSE, CHUNK, END, CALL, REPLY, CANCEL, PING, PONG, SHUTDOWN,
  FLAG_ERROR, FLAG_BINARY, FLAG_STREAM,
} = framing;
const TEST_ADAPTER = path.join(__dirname, 'fixtures', 'test_adapter.js');

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

// Runs `body(worker)` against a started worker (hello checked), then stops it.
function withWorker(options, body) {
  return async () => {
    const w = Worker.start(options);
    try {
      w.helloValue = await w.hello();
      await body(w);
    } finally {
      await w.stop();
    }
  };
}

function assertError(f, code, type) {
  assert.ok(f.flags & FLAG_ERROR, `expected an error, got ${JSON.stringify(f.value)}`);
  assert.strictEqual(f.value.code, code, JSON.stringify(f.value));
  if (type) assert.strictEqual(f.value.type, type);
}

test('hello describes the bridge', withWorker({}, async (w) => {
  const h = w.helloValue;
  assert.strictEqual(h.protocol, 1);
  assert.strictEqual(h.bridge, 'node');
  assert.strictEqual(h.bridge_version, '0.1.0');
  assert.strictEqual(h.pid, w.child.pid);
  assert.deepStrictEqual(h.commands, [...h.commands].sort());
  for (const c of ['ping', 'echo', 'compute', 'count', 'checksum', 'call_host', 'session_put']) {
    assert.ok(h.commands.includes(c), c);
  }
}));

test('ping/pong when idle, ping command, echo', withWorker({}, async (w) => {
  await w.send(PING, 0, 42, null);
  const pong = await w.next();
  assert.strictEqual(pong.kind, PONG);
  assert.strictEqual(pong.id, 42);
  assert.strictEqual(pong.payload.length, 0);
  // A flag it does not use and a payload are ignored.
  await w.send(PING, FLAG_STREAM, 43, Buffer.from('xyz'), { raw: true });
  assert.strictEqual((await w.next()).id, 43);

  const ping = await w.call(1, 'ping', { test: true });
  assert.strictEqual(ping.kind, RESPONSE);
  assert.strictEqual(ping.id, 1);
  assert.strictEqual(ping.value.status, 'ok');
  assert.deepStrictEqual(ping.value.echo, { test: true });
  assert.strictEqual(ping.value.worker_id, 'test-0.1');
  assert.strictEqual(ping.value.pid, w.child.pid);

  const payload = { token: 'tok-1', list: [1, 2, 3], nested: { x: null }, s: 'é ✓ 🐍' };
  const echo = await w.call(2, 'echo', payload);
  assert.deepStrictEqual(echo.value, payload);
  const big = await w.call(0x10000000005, 'echo', {});
  assert.strictEqual(big.bigId, 0x10000000005n);
  const info = await w.call(3, 'info');
  assert.ok(info.value.commands.includes('sleep'));
  const again = await w.call(4, 'ping');
  assert.strictEqual(again.value.requests, 4); // completed before this one
}));

test('compute and its errors', withWorker({}, async (w) => {
  assert.strictEqual((await w.call(1, 'compute', { operation: 'add', a: 2, b: 3 })).value.result, 5);
  assert.strictEqual((await w.call(2, 'compute', { operation: 'divide', a: 7, b: 2 })).value.result, 3.5);
  assert.strictEqual((await w.call(3, 'compute', { operation: 'multiply', a: 2.5, b: 4 })).value.result, 10);
  assert.strictEqual((await w.call(4, 'compute', { operation: 'subtract', a: 1, b: 4 })).value.result, -3);
  const zero = await w.call(5, 'compute', { operation: 'divide', a: 1, b: 0 });
  assertError(zero, 'InvalidArgument', 'ZeroDivisionError');
  assert.strictEqual(zero.value.message, 'division by zero');
  assert.match(zero.value.traceback, /compute/);
  const missing = await w.call(6, 'compute', { operation: 'add', a: 1 });
  assertError(missing, 'InvalidArgument', 'TypeError');
  assert.strictEqual(missing.value.message, "compute(): missing a required argument: 'b'");
  const extra = await w.call(7, 'compute', { operation: 'add', a: 1, b: 2, c: 3 });
  assertError(extra, 'InvalidArgument', 'TypeError');
  assert.strictEqual(extra.value.message, "compute(): got an unexpected keyword argument 'c'");
  const wrongType = await w.call(8, 'compute', { operation: 'add', a: 'one', b: 2 });
  assertError(wrongType, 'InvalidArgument', 'TypeError');
  assert.strictEqual(wrongType.value.message, 'a must be a number, not str');
  const badOp = await w.call(9, 'compute', { operation: 'power', a: 1, b: 2 });
  assertError(badOp, 'InvalidArgument', 'InvalidArgument');
  assertError(await w.call(10, 'sleep', { ms: -1 }), 'InvalidArgument');
}));

test('malformed requests get InvalidArgument; unknown command', withWorker({}, async (w) => {
  const unknown = await w.call(1, 'no_such_command', { x: 1 });
  assertError(unknown, 'InvalidArgument', 'UnknownCommand');
  assert.match(unknown.value.message, /^unknown command 'no_such_command'; available: call_host, checksum, /);
  await w.send(REQUEST, 0, 2, { command: 'echo', args: [1, 2] });
  const arrayArgs = await w.next();
  assertError(arrayArgs, 'InvalidArgument', 'TypeError');
  assert.strictEqual(arrayArgs.value.message, 'echo: "args" must be a JSON object, not an array');
  await w.send(REQUEST, 0, 3, [1]);
  assert.match((await w.next()).value.message, /request payload must be a JSON object, not an array/);
  await w.send(REQUEST, 0, 4, { command: 7 });
  assert.match((await w.next()).value.message, /"command" must be a string/);
  await w.send(REQUEST, 0, 5, { command: 'echo', session: 5 });
  assert.match((await w.next()).value.message, /"session" must be a string/);
  await w.send(REQUEST, 0, 6, { command: 'echo' }); // missing args: {}
  assert.deepStrictEqual((await w.next()).value, {});
  // An error for a STREAM request comes in `end`.
  const streamed = await w.call(7, 'nope', {}, { flags: FLAG_STREAM });
  assert.strictEqual(streamed.kind, END);
  assertError(streamed, 'InvalidArgument', 'UnknownCommand');
}));

test('adapter errors, results and ctx', withWorker({ adapter: TEST_ADAPTER }, async (w) => {
  assert.ok(!w.helloValue.commands.includes('_helper'));
  assert.ok(!w.helloValue.commands.includes('SomeClass'));
  assert.ok(!w.helloValue.commands.includes('streaming'));
  const plain = await w.call(1, 'fail_plain');
  assertError(plain, 'Internal', 'TypeError');
  assert.strictEqual(plain.value.message, 'bad thing');
  assert.match(plain.value.traceback, /TypeError: bad thing\n\s+at /);
  const custom = await w.call(2, 'fail_custom');
  assertError(custom, 'NotFound', 'NotFound');
  assert.deepStrictEqual(custom.value.details, { reason: 'missing_x' });
  assertError(await w.call(3, 'fail_async'), 'InvalidArgument', 'ValueError');
  const nan = await w.call(4, 'nan');
  assertError(nan, 'Internal');
  assert.match(nan.value.message, /result of 'nan' is not JSON-serializable/);
  assert.strictEqual((await w.call(5, 'nothing')).value, null);
  const ctx = await w.call(6, 'ctx_info', {}, { session: 's-1' });
  assert.deepStrictEqual(ctx.value, {
    workerId: 'test-0.1', requestId: 6, command: 'ctx_info', sessionId: 's-1', cancelled: false,
  });
  assert.strictEqual((await w.call(7, 'ctx_info')).value.sessionId, null);
  assert.strictEqual((await w.call(8, 'checked', { x: 1 })).value, 3);
  assertError(await w.call(9, 'checked', { y: 1 }), 'InvalidArgument', 'TypeError');
  const noSession = await w.call(10, 'sess_get', { key: 'k' });
  assertError(noSession, 'FailedPrecondition');
  assert.strictEqual(noSession.value.details.reason, 'no_session');
}));

test('a result above the maximum frame is ResourceExhausted/FrameTooLarge',
  withWorker({ adapter: TEST_ADAPTER, maxFrame: 4096 }, async (w) => {
    const ok = await w.call(1, 'big', { n: 4000 });
    assert.strictEqual(ok.value.length, 4000);
    const tooBig = await w.call(2, 'big', { n: 5000 });
    assertError(tooBig, 'ResourceExhausted', 'FrameTooLarge');
    assert.match(tooBig.value.message, /above the maximum payload of 4084 bytes/);
    assert.strictEqual((await w.call(3, 'big', { n: 1 })).value, 'x');
  }));

test('an exception thrown outside the command\'s promise fails the request',
  withWorker({ adapter: TEST_ADAPTER }, async (w) => {
    const r = await w.call(1, 'leaky');
    assertError(r, 'Internal', 'RangeError');
    assert.match(r.value.message, /thrown from a timer/);
    assert.strictEqual((await w.call(2, 'nothing')).value, null);
  }));

test('streaming: chunks then end; without STREAM a list', withWorker({}, async (w) => {
  const s = await w.call(1, 'count', { n: 3 }, { flags: FLAG_STREAM });
  assert.strictEqual(s.kind, END);
  assert.strictEqual(s.flags, 0);
  assert.deepStrictEqual(s.chunks, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  assert.deepStrictEqual(s.value, { count: 3 });
  const list = await w.call(2, 'count', { n: 3 });
  assert.strictEqual(list.kind, RESPONSE);
  assert.deepStrictEqual(list.value, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  const empty = await w.call(3, 'count', { n: 0 }, { flags: FLAG_STREAM });
  assert.deepStrictEqual([empty.chunks, empty.value], [[], { count: 0 }]);
  // A non-streaming command asked to stream: its result in end.
  const plain = await w.call(4, 'echo', { a: 1 }, { flags: FLAG_STREAM });
  assert.strictEqual(plain.kind, END);
  assert.deepStrictEqual([plain.chunks, plain.value], [[], { a: 1 }]);
  // Bad arguments: an error before any chunk.
  const bad = await w.call(5, 'count', { n: -1 }, { flags: FLAG_STREAM });
  assert.deepStrictEqual(bad.chunks, []);
  assertError(bad, 'InvalidArgument', 'ValueError');
  const slow = await w.call(6, 'count', { n: 3, delay_ms: 1 }, { flags: FLAG_STREAM });
  assert.deepStrictEqual(slow.value, { count: 3 });
  assert.strictEqual(slow.chunks.length, 3);
}));

test('streaming: generator functions, "streaming" list, errors part way',
  withWorker({ adapter: TEST_ADAPTER }, async (w) => {
    const gen = await w.call(1, 'gen', { n: 2 }, { flags: FLAG_STREAM });
    assert.deepStrictEqual([gen.chunks, gen.value], [[0, 1], 'done']);
    assert.deepStrictEqual((await w.call(2, 'gen', { n: 2 })).value, [0, 1]);
    const listed = await w.call(3, 'listed', {}, { flags: FLAG_STREAM });
    assert.deepStrictEqual([listed.chunks, listed.value], [[1, 2, 3], null]);
    const broke = await w.call(4, 'agen', {}, { flags: FLAG_STREAM });
    assert.deepStrictEqual(broke.chunks, ['first']);
    assertError(broke, 'InvalidArgument', 'InvalidArgument');
    assertError(await w.call(5, 'agen', {}), 'InvalidArgument');
    const badChunk = await w.call(6, 'bad_chunk', {}, { flags: FLAG_STREAM });
    assert.deepStrictEqual(badChunk.chunks, [1]);
    assertError(badChunk, 'Internal');
    assert.match(badChunk.value.message, /chunk of 'bad_chunk' is not JSON-serializable/);
  }));

test('streaming: cancel mid-stream ends it with Cancelled', withWorker({}, async (w) => {
  for (const [id, args] of [[1, { n: 10000000 }], [2, { n: 1000000, delay_ms: 1 }]]) {
    await w.request(id, 'count', args, { flags: FLAG_STREAM });
    const first = await w.next();
    assert.strictEqual(first.kind, CHUNK);
    await w.send(CANCEL, 0, id, null);
    let f;
    let chunks = 1;
    for (;;) {
      f = await w.next();
      if (f.kind !== CHUNK) break;
      chunks++;
    }
    assert.strictEqual(f.kind, END);
    assert.strictEqual(f.id, id);
    assertError(f, 'Cancelled', 'Cancelled');
    assert.strictEqual(f.value.message, 'stream cancelled by the host');
    assert.ok(chunks < args.n);
  }
  // The worker serves on; a late cancel is ignored.
  await w.send(CANCEL, 0, 1, null);
  assert.strictEqual((await w.call(3, 'ping')).value.status, 'ok');
}));

test('cancel during a command; ping answered while it runs', withWorker({ adapter: TEST_ADAPTER }, async (w) => {
  await w.request(1, 'wait_cancel');
  await w.send(PING, 0, 77, null);
  const pong = await w.next();
  assert.deepStrictEqual([pong.kind, pong.id], [PONG, 77]);
  await w.send(CANCEL, 0, 99, null); // another request's: ignored
  await w.send(CANCEL, 0, 1, null);
  const r = await w.next();
  assert.deepStrictEqual([r.kind, r.id, r.value], [RESPONSE, 1, { saw_cancel: true }]);
}));

test('generic sleep stops on cancel', withWorker({}, async (w) => {
  await w.request(1, 'sleep', { ms: 60000 });
  await w.send(CANCEL, 0, 1, null);
  const r = await w.next();
  assert.strictEqual(r.value.cancelled, true);
  assert.ok(r.value.slept_ms < 60000);
}));

test('binary round trips: 0 B, 1 B, 1 MiB, 32 MiB', withWorker({}, async (w) => {
  let id = 1;
  for (const size of [0, 1, 1 << 20, 32 << 20]) {
    const data = crypto.randomBytes(size);
    const want = sha256(data);
    const check = await w.call(id++, 'checksum', { data });
    assert.deepStrictEqual(check.value, { size, sha256: want });
    const echoed = await w.call(id++, 'transform', { data, op: 'identity' });
    assert.ok(echoed.flags & FLAG_BINARY);
    assert.strictEqual(echoed.value.size, size);
    assert.strictEqual(echoed.value.sha256, want);
    assert.strictEqual(sha256(echoed.value.data), want);
  }
  const inv = await w.call(id++, 'transform', { data: Buffer.from([0, 1, 2, 3, 4, 0xff]), op: 'invert' });
  assert.deepStrictEqual([...inv.value.data], [0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0]);
  const rev = await w.call(id++, 'transform', { data: Buffer.from('abc') });
  assert.strictEqual(rev.value.data.toString(), 'cba');
  const notBytes = await w.call(id++, 'checksum', { data: 'abc' });
  assertError(notBytes, 'InvalidArgument', 'TypeError');
  assert.strictEqual(notBytes.value.message, 'data must be bytes (a byte string), not a string');
  // Byte strings in a stream's chunks.
  const s = await w.call(id++, 'stream_bytes', { n: 3, size: 100000 }, { flags: FLAG_STREAM });
  assert.strictEqual(s.chunks.length, 3);
  s.chunks.forEach((c, i) => assert.ok(c.equals(Buffer.alloc(100000, i))));
  assert.deepStrictEqual(s.value, { chunks: 3, bytes: 300000 });
}));

test('a result with bytes above the maximum frame is FrameTooLarge', withWorker({ maxFrame: 65536 }, async (w) => {
  const r = await w.call(1, 'stream_bytes', { n: 2, size: 70000 }, { flags: FLAG_STREAM });
  assert.deepStrictEqual(r.chunks, []);
  assert.ok(!(r.flags & FLAG_BINARY));
  assertError(r, 'ResourceExhausted', 'FrameTooLarge');
  assert.match(r.value.message, /^chunk of 'stream_bytes' is 700\d\d bytes \(\d+ of JSON, 70000 in byte strings\), above the maximum payload of 65524 bytes$/);
  const list = await w.call(2, 'stream_bytes', { n: 1, size: 70000 });
  assertError(list, 'ResourceExhausted', 'FrameTooLarge');
  assert.match(list.value.message, /^result of 'stream_bytes'/);
  assert.strictEqual((await w.call(3, 'stream_bytes', { n: 1, size: 60000 })).value[0].length, 60000);
}));

test('calls: reply ok, reply error, binary, concurrent, functions', withWorker({ adapter: TEST_ADAPTER }, async (w) => {
  await w.request(1, 'typed_call', { function: 'f' }, { session: 's' });
  let call = await w.next();
  assert.deepStrictEqual([call.kind, call.id, call.value], [CALL, 1, { args: { a: 1 }, function: 'f' }]);
  assert.strictEqual(call.payload.toString(), '{"args":{"a":1},"function":"f"}');
  await w.send(REPLY, 0, 1, { got: Buffer.from('zz') });
  let r = await w.next();
  assert.strictEqual(r.kind, RESPONSE);
  assert.ok(r.value.ok.got.equals(Buffer.from('zz')));

  await w.request(2, 'typed_call', { function: 'x' });
  call = await w.next();
  assert.strictEqual(call.id, 2); // call ids keep counting
  await w.send(REPLY, FLAG_ERROR, 2, {
    code: 'NotFound', message: "no host function 'x'", details: { reason: 'unknown_function' },
  });
  r = await w.next();
  assert.deepStrictEqual(r.value, {
    host_call: true, not_found: true, snakepit: true, error: true, code: 'NotFound',
    reason: 'unknown_function', name: 'HostCallError', function: 'x', message: "no host function 'x'",
  });

  await w.request(3, 'concurrent_calls');
  const c1 = await w.next();
  const c2 = await w.next();
  assert.deepStrictEqual([c1.kind, c2.kind], [CALL, CALL]);
  assert.notStrictEqual(c1.id, c2.id);
  await w.send(REPLY, 0, c2.id, 'second'); // replies in any order
  await w.send(REPLY, 0, c1.id, 'first');
  assert.deepStrictEqual((await w.next()).value, ['first', 'second']);

  await w.request(4, 'fns');
  call = await w.next();
  assert.deepStrictEqual(call.value, { args: {}, function: 'host.functions' });
  await w.send(PING, 0, 5, null); // answered while waiting for a reply
  assert.deepStrictEqual([(await w.next()).kind], [PONG]);
  await w.send(REPLY, 0, call.id, { functions: [{ name: 'f', description: '', scope: 'global' }] });
  assert.deepStrictEqual((await w.next()).value, [{ name: 'f', description: '', scope: 'global' }]);

  await w.request(5, 'sess_update', {}, { session: 's' });
  call = await w.next();
  assert.deepStrictEqual(call.value, { args: { set: { a: 1 }, delete: ['b'], if_version: 3 }, function: 'session.update' });
  await w.send(REPLY, 0, call.id, { version: 4 });
  assert.strictEqual((await w.next()).value, 4);
}));

test('generic call_host: an error reply becomes the command\'s error', withWorker({}, async (w) => {
  await w.request(1, 'call_host', { function: 'nope', args: { q: 1 } });
  const call = await w.next();
  assert.deepStrictEqual(call.value, { args: { q: 1 }, function: 'nope' });
  await w.send(REPLY, FLAG_ERROR, call.id, {
    code: 'NotFound', message: "no host function 'nope'", details: { reason: 'unknown_function' },
  });
  const r = await w.next();
  assertError(r, 'NotFound', 'HostCallError');
  assert.deepStrictEqual(r.value.details, { reason: 'unknown_function' });
  assert.strictEqual(r.value.message, "no host function 'nope'");
}));

test('calls during a stream (stream_calls)', withWorker({}, async (w) => {
  await w.request(1, 'stream_calls', { n: 2, function: 'double' }, { flags: FLAG_STREAM });
  for (let i = 0; i < 2; i++) {
    const call = await w.next();
    assert.deepStrictEqual([call.kind, call.value], [CALL, { args: { i }, function: 'double' }]);
    await w.send(REPLY, 0, call.id, 2 * i);
    const chunk = await w.next();
    assert.deepStrictEqual([chunk.kind, chunk.id, chunk.value], [CHUNK, 1, { i, result: 2 * i }]);
  }
  const end = await w.next();
  assert.deepStrictEqual([end.kind, end.flags, end.value], [END, 0, null]);
}));

test('session commands over calls', withWorker({}, async (w) => {
  await w.request(1, 'session_append', { key: 'k', value: 5 }, { session: 's-1' });
  let call = await w.next();
  assert.deepStrictEqual(call.value, { args: { keys: ['k'] }, function: 'session.read' });
  await w.send(REPLY, 0, call.id, { values: { k: [1] }, version: 2 });
  call = await w.next();
  assert.deepStrictEqual(call.value, { args: { set: { k: [1, 5] }, if_version: 2 }, function: 'session.update' });
  await w.send(REPLY, FLAG_ERROR, call.id, { code: 'FailedPrecondition', message: 'stale', details: { reason: 'version_mismatch' } });
  call = await w.next(); // retried
  assert.strictEqual(call.value.function, 'session.read');
  await w.send(REPLY, 0, call.id, { values: { k: [1, 2] }, version: 3 });
  call = await w.next();
  await w.send(REPLY, 0, call.id, { version: 4 });
  assert.deepStrictEqual((await w.next()).value, { length: 3, version: 4 });

  await w.request(2, 'session_sum', { key: 'k' }, { session: 's-1' });
  call = await w.next();
  await w.send(REPLY, 0, call.id, { values: {}, version: 4 });
  assert.strictEqual((await w.next()).value, 0);

  const none = await w.call(3, 'session_put', { key: 'k', value: 1 });
  assertError(none, 'FailedPrecondition');
  assert.strictEqual(none.value.details.reason, 'no_session');
  const lc = await w.call(4, 'local_counter', {}, { session: 'a' });
  assert.deepStrictEqual([lc.value.count, lc.value.session_id], [1, 'a']);
  assert.strictEqual((await w.call(5, 'local_counter', {}, { session: 'a' })).value.count, 2);
}));

test('socketpair stdio works too', withWorker({ mode: 'socketpair' }, async (w) => {
  assert.strictEqual((await w.call(1, 'echo', { a: 1 })).value.a, 1);
  const data = crypto.randomBytes(3 << 20);
  assert.strictEqual((await w.call(2, 'checksum', { data })).value.sha256, sha256(data));
}));
