'use strict';
// Test support: start the Node bridge as the host does (protocol pipes on
// fds 3 and 4) and exchange frames with it. Not a test file itself.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const BRIDGE = path.join(ROOT, 'bridges', 'node');
const MAIN = path.join(BRIDGE, 'main.js');
const GENERIC = path.join(BRIDGE, 'generic.js');
const framing = require(path.join(BRIDGE, 'lib', 'framing.js'));
const codec = require(path.join(BRIDGE, 'lib', 'codec.js'));

const { FLAG_BINARY, PREFIX_SIZE } = framing;

/** One frame as bytes; `value` JSON (keys sorted, Buffers -> BINARY), a raw Buffer, or null. */
function frame(kind, flags, id, value, { raw = false } = {}) {
  if (value === null || value === undefined) return framing.encodeFrame(kind, flags, id, null);
  if (raw) return framing.encodeFrame(kind, flags, id, value);
  const enc = codec.encode(codec.sortKeys(value));
  const json = Buffer.from(enc.json, 'utf8');
  if (!enc.attachments) return framing.encodeFrame(kind, flags, id, json);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  return framing.encodeFrame(kind, flags | FLAG_BINARY, id,
                             Buffer.concat([head, json, ...enc.attachments]));
}

function decodePayload(flags, payload) {
  if (flags & FLAG_BINARY) return codec.decodeBinary(payload);
  if (!payload.length) return null;
  return codec.decode(payload);
}

function openFifoPair(dir, name) {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  // O_RDWR first so neither of the one-way opens blocks.
  const rw = fs.openSync(p, fs.constants.O_RDWR);
  const readFd = fs.openSync(p, fs.constants.O_RDONLY);
  const writeFd = fs.openSync(p, fs.constants.O_WRONLY);
  fs.closeSync(rw);
  return { readFd, writeFd };
}

class Worker {
  /**
   * Start `node main.js --adapter <adapter>`. options: mode "fifo" (named
   * pipes, like the host's pipes; default) or "socketpair" (Node's stdio
   * pipes); env (added); args (instead of --adapter ...); maxFrame.
   */
  static start(options = {}) {
    return new Worker(options);
  }

  constructor({ adapter = GENERIC, env = {}, args = null, mode = 'fifo', maxFrame, viaShell = false } = {}) {
    this.frames = [];
    this.waiters = [];
    this.stderr = '';
    this.stdout = '';
    this.maxFrame = maxFrame || framing.DEFAULT_MAX_FRAME;
    let argv = [MAIN].concat(args || ['--adapter', adapter]);
    let exe = process.execPath;
    if (viaShell) {
      // sh runs the bridge in the background and waits: killing sh orphans it.
      argv = ['-c', '"$0" "$@" & wait', process.execPath].concat(argv);
      exe = '/bin/sh';
    }
    const childEnv = Object.assign({}, process.env, { SNAKEPIT_WORKER_ID: 'test-0.1' }, env);
    if (maxFrame) childEnv.SNAKEPIT_MAX_FRAME = String(maxFrame);
    if (mode === 'fifo') {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snakepit-node-'));
      const toWorker = openFifoPair(this.dir, 'in');
      const fromWorker = openFifoPair(this.dir, 'out');
      this.child = spawn(exe, argv, {
        env: childEnv, stdio: ['ignore', 'pipe', 'pipe', toWorker.readFd, fromWorker.writeFd],
      });
      fs.closeSync(toWorker.readFd);
      fs.closeSync(fromWorker.writeFd);
      this.out = new net.Socket({ fd: toWorker.writeFd, readable: false, writable: true });
      this.in = new net.Socket({ fd: fromWorker.readFd, readable: true, writable: false });
    } else {
      this.child = spawn(exe, argv, {
        env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      });
      this.out = this.child.stdio[3];
      this.in = this.child.stdio[4];
    }
    this.out.on('error', () => {});
    this.in.on('error', () => {});
    this.child.stdout.on('data', (d) => { this.stdout += d; });
    this.child.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const parser = new framing.FrameParser((kind, flags, id, payload) => {
      this.deliver({ kind, flags, id: Number(id), bigId: id, payload });
    }, 1 << 30, null);
    this.in.on('data', (chunk) => parser.push(chunk));
    this.in.on('end', () => this.deliver(null));
    this.in.on('close', () => this.deliver(null));
  }

  deliver(f) {
    if (f === null) {
      if (this.closed) return;
      this.closed = true;
    }
    const w = this.waiters.shift();
    if (w) w(f);
    else this.frames.push(f);
  }

  /** The next frame {kind, flags, id, payload, value} (null: output closed). */
  next(timeoutMs = 20000) {
    const decodeIt = (f) => {
      if (f) f.value = decodePayload(f.flags, f.payload);
      return f;
    };
    if (this.frames.length) return Promise.resolve(decodeIt(this.frames.shift()));
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no frame within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      const waiter = (f) => {
        clearTimeout(timer);
        resolve(decodeIt(f));
      };
      this.waiters.push(waiter);
    });
  }

  async hello() {
    const f = await this.next();
    if (!f || f.kind !== framing.HELLO) {
      throw new Error(`expected hello, got ${f && f.kind}; stderr: ${this.stderr}`);
    }
    return f.value;
  }

  writeRaw(buf) {
    return new Promise((resolve, reject) => {
      this.out.write(buf, (e) => (e ? reject(e) : resolve()));
    });
  }

  send(kind, flags, id, value, options) {
    return this.writeRaw(frame(kind, flags, id, value, options));
  }

  request(id, command, args = {}, { flags = 0, session } = {}) {
    const body = { command, args };
    if (session !== undefined) body.session = session;
    return this.send(framing.REQUEST, flags, id, body);
  }

  /** Send a request and return its answer (a response, or the end of a stream with its chunks). */
  async call(id, command, args = {}, options = {}) {
    await this.request(id, command, args, options);
    const chunks = [];
    for (;;) {
      const f = await this.next();
      if (!f) throw new Error(`worker output closed; stderr: ${this.stderr}`);
      if (f.kind === framing.CHUNK) {
        chunks.push(f.value);
        continue;
      }
      f.chunks = chunks;
      return f;
    }
  }

  closeInput() {
    this.out.end();
  }

  async stop() {
    try {
      this.child.kill('SIGKILL');
    } catch (_) { /* gone */ }
    await this.exited;
    this.in.destroy();
    this.out.destroy();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { Worker, frame, decodePayload, framing, codec, ROOT, BRIDGE, MAIN, GENERIC };
