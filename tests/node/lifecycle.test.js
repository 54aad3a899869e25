'use strict';
// Start-up, exit codes and protocol errors of the bridge process.

const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawn } = require('child_process');
const { Worker, framing, MAIN } = require('./harness');

const { REQUEST, REPLY, PING, PONG, SHUTDOWN, CANCEL, RESPONSE, FLAG_BINARY } = framing;
const FIXTURES = path.join(__dirname, 'fixtures');

async function started(options = {}) {
  const w = Worker.start(options);
  await w.hello();
  return w;
}

// Expect the worker to exit with `code` and no further frame.
async function expectExit(w, code) {
  const f = await w.next();
  assert.strictEqual(f, null, `unexpected frame ${f && f.kind}`);
  const { code: got } = await w.exited;
  assert.strictEqual(got, code, `stderr: ${w.stderr}`);
  await w.stop();
}

test('shutdown: exit 0', async () => {
  const w = await started();
  await w.send(SHUTDOWN, 0, 0, null);
  await expectExit(w, 0);
});

test('shutdown with a non-zero id and a payload: exit 0', async () => {
  const w = await started();
  await w.send(SHUTDOWN, 0, 9, Buffer.from('x'), { raw: true });
  await expectExit(w, 0);
});

test('end of input: exit 0', async () => {
  const w = await started();
  w.closeInput();
  await expectExit(w, 0);
});

test('end of input with the socketpair stdio: exit 0', async () => {
  const w = await started({ mode: 'socketpair' });
  w.closeInput();
  assert.strictEqual((await w.exited).code, 0);
  await w.stop();
});

test('shutdown during a command: the response, then exit 0', async () => {
  const w = await started();
  await w.request(1, 'sleep', { ms: 50 });
  await w.send(SHUTDOWN, 0, 0, null);
  const r = await w.next();
  assert.deepStrictEqual([r.kind, r.value], [RESPONSE, { slept_ms: 50 }]);
  await expectExit(w, 0);
});

test('end of input while waiting for a reply: exit 0', async () => {
  const w = await started();
  await w.request(1, 'call_host', { function: 'f' });
  assert.strictEqual((await w.next()).kind, framing.CALL);
  w.closeInput();
  await expectExit(w, 0);
});

test('SIGTERM: exit 0', async () => {
  const w = await started();
  w.child.kill('SIGTERM');
  assert.deepStrictEqual(await w.exited, { code: 0, signal: null });
  await w.stop();
});

test('crash command exits with its code', async () => {
  const w = await started();
  await w.request(1, 'crash', { code: 7 });
  await expectExit(w, 7);
});

test('parent death: the bridge exits when its parent is gone', async () => {
  const w = Worker.start({ viaShell: true });
  const hello = await w.hello();
  assert.notStrictEqual(hello.pid, w.child.pid); // the bridge is sh's child
  w.child.kill('SIGKILL'); // sh dies; the bridge notices within about a second
  assert.strictEqual(await w.next(), null);
  assert.match(w.stderr, /parent process \d+ is gone; exiting/);
  await w.stop();
});

for (const [name, args, message] of [
  ['missing adapter file', ['--adapter', path.join(FIXTURES, 'nope.js')], /cannot load adapter module/],
  ['adapter with a syntax error', ['--adapter', path.join(FIXTURES, 'syntax_error.js')], /SyntaxError/],
  ['adapter without commands', ['--adapter', path.join(FIXTURES, 'no_commands.js')], /exports no command functions/],
  ['unknown option', ['--bogus', 'x'], /bad arguments/],
  ['unsupported protocol', ['--protocol', 'snakepit-v0'], /speaks native only/],
]) {
  test(`bad start (${name}): exit 2 before hello`, async () => {
    const w = Worker.start({ args });
    assert.strictEqual(await w.next(), null);
    assert.strictEqual((await w.exited).code, 2);
    assert.match(w.stderr, message);
    await w.stop();
  });
}

test('bad SNAKEPIT_MAX_FRAME: exit 2', async () => {
  const w = Worker.start({ env: { SNAKEPIT_MAX_FRAME: '5' } });
  assert.strictEqual(await w.next(), null);
  assert.strictEqual((await w.exited).code, 2);
  assert.match(w.stderr, /SNAKEPIT_MAX_FRAME=5 is below 12/);
  await w.stop();
});

test('protocol fd not open: exit 2', async () => {
  // (a high fd: Node itself uses some low ones when 3 and 4 are free)
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'ignore', 'pipe'], env: Object.assign({}, process.env, { SNAKEPIT_FD_IN: '250' }),
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.strictEqual(code, 2);
  assert.match(stderr, /protocol fd 250 \(SNAKEPIT_FD_IN\) is not open/);
});

test('an ES module adapter', async () => {
  const w = await started({ adapter: path.join(FIXTURES, 'esm_adapter.mjs') });
  assert.strictEqual((await w.call(1, 'hello', { name: 'x' })).value, 'hello x');
  const s = await w.call(2, 'ticks', { n: 2 }, { flags: framing.FLAG_STREAM });
  assert.deepStrictEqual(s.chunks, [0, 1]);
  await w.stop();
});

function header(length, kind, flags, id = 1) {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(length, 0);
  b[4] = kind;
  b[5] = flags;
  b.writeBigUInt64BE(BigInt(id), 8);
  return b;
}

function binary(json, attachments) {
  const j = Buffer.from(json);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(j.length);
  return Buffer.concat([head, j, attachments]);
}

const PROTOCOL_ERRORS = [
  ['length below 12', () => header(4, PING, 0)],
  ['length above the maximum', () => header(1 << 20, REQUEST, 0), { maxFrame: 65536 }],
  ['unknown kind', () => header(12, 42, 0)],
  ['kind sent in the wrong direction', () => header(12, RESPONSE, 0)],
  ['unknown flag bit', () => header(12, PING, 0x10)],
  ['ERROR and BINARY', () => header(12, REQUEST, 0x03)],
  ['request that is not JSON', () => framing.encodeFrame(REQUEST, 0, 1, Buffer.from('{nope'))],
  ['request that is not UTF-8', () => framing.encodeFrame(REQUEST, 0, 1, Buffer.from([0x22, 0xc3, 0x22]))],
  ['binary request with a bad placeholder',
    () => framing.encodeFrame(REQUEST, FLAG_BINARY, 1,
                              binary('{"command":"checksum","args":{"data":{"$bytes":[0,9]}}}', Buffer.from('abc')))],
  ['binary request without a JSON length', () => framing.encodeFrame(REQUEST, FLAG_BINARY, 1, Buffer.from([0]))],
  ['reply while no call waits', () => framing.encodeFrame(REPLY, 0, 1, Buffer.from('1'))],
];

for (const [name, make, options] of PROTOCOL_ERRORS) {
  test(`protocol error (${name}): exit 3`, async () => {
    const w = await started(options || {});
    await w.writeRaw(make());
    await expectExit(w, 3);
    assert.match(w.stderr, /protocol error/);
  });
}

test('protocol error: a reply with the wrong id while a call waits', async () => {
  const w = await started();
  await w.request(1, 'call_host', { function: 'f' });
  const call = await w.next();
  await w.send(REPLY, 0, call.id + 5, 1);
  await expectExit(w, 3);
  assert.match(w.stderr, /reply 6 while waiting for the reply to call 1/);
});

test('protocol error: a reply that is not JSON', async () => {
  const w = await started();
  await w.request(1, 'call_host', { function: 'f' });
  const call = await w.next();
  await w.writeRaw(framing.encodeFrame(REPLY, 0, call.id, Buffer.from('{')));
  await expectExit(w, 3);
});

test('ignored: cancel with a payload, late cancel; the worker serves on', async () => {
  const w = await started();
  await w.send(CANCEL, FLAG_BINARY, 5, Buffer.from('junk'), { raw: true });
  await w.send(PING, 0, 1, null);
  assert.strictEqual((await w.next()).kind, PONG);
  await w.stop();
});
