#!/usr/bin/env node
'use strict';
// node bridges/node/main.js --adapter <path or module name>
//
// Exit codes: 0 shutdown / end of input / SIGTERM / parent death; 2 bad
// adapter or configuration (before hello); 3 protocol error from the host.
//
// Environment: SNAKEPIT_FD_IN (default 3), SNAKEPIT_FD_OUT (default 4),
// SNAKEPIT_MAX_FRAME (default 64 MiB), SNAKEPIT_WORKER_ID, SNAKEPIT_PROTOCOL
// (only "native" is supported).

const fs = require('fs');
const path = require('path');

const EXIT_OK = 0;
const EXIT_CONFIG = 2;
const EXIT_PROTOCOL = 3;
const HEADER_SIZE = 12;
const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
const DEFAULT_ADAPTER = path.join(__dirname, 'generic.js');

function say(message) {
  try {
    fs.writeSync(2, `snakepit_bridge: ${message}\n`);
  } catch (_) { /* no stderr */ }
}

class ConfigError extends Error {}

const USAGE = 'usage: node main.js [--adapter <path or module>] [--protocol native]';

function parseArgs(argv) {
  const values = { '--adapter': DEFAULT_ADAPTER, '--protocol': null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(EXIT_OK);
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      i++;
    }
    if (!(name in values) || !value || (eq < 0 && value.startsWith('-'))) {
      throw new ConfigError(`bad arguments ${JSON.stringify(argv)}\n${USAGE}`);
    }
    values[name] = value;
  }
  return values;
}

function envInt(name, dflt, minimum) {
  const raw = process.env[name] || '';
  if (!raw) return dflt;
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not an integer`);
  const value = Number(raw);
  if (value < minimum) throw new ConfigError(`${name}=${value} is below ${minimum}`);
  return value;
}

function checkFd(fd, name) {
  try {
    fs.fstatSync(fd);
  } catch (e) {
    throw new ConfigError(`protocol fd ${fd} (${name}) is not open: ${e.message}`);
  }
}

// require('snakepit_bridge') from any adapter resolves to this directory's
// snakepit_bridge.js (NODE_PATH is restored afterwards, so programs the
// commands start do not inherit it).
function exposeBridgeModule() {
  const Module = require('module');
  const old = process.env.NODE_PATH;
  process.env.NODE_PATH = old ? `${__dirname}${path.delimiter}${old}` : __dirname;
  try {
    Module._initPaths();
  } finally {
    if (old === undefined) delete process.env.NODE_PATH;
    else process.env.NODE_PATH = old;
  }
}

function watchParent() {
  const original = process.ppid;
  const timer = setInterval(() => {
    const ppid = process.ppid;
    if (ppid !== original || (original !== 1 && ppid === 1)) {
      say(`parent process ${original} is gone; exiting`);
      process.exit(EXIT_OK);
    }
  }, 1000);
  timer.unref();
}

async function main(argv) {
  process.on('SIGTERM', () => process.exit(EXIT_OK));
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  let adapter;
  let fdIn;
  let fdOut;
  let maxFrame;
  let registry;
  try {
    const args = parseArgs(argv);
    const protocol = args['--protocol'] || process.env.SNAKEPIT_PROTOCOL || 'native';
    if (protocol !== 'native') {
      throw new ConfigError(`unknown or unsupported protocol ${JSON.stringify(protocol)} `
                            + '(the Node bridge speaks native only)');
    }
    maxFrame = envInt('SNAKEPIT_MAX_FRAME', DEFAULT_MAX_FRAME, HEADER_SIZE);
    fdIn = envInt('SNAKEPIT_FD_IN', 3, 0);
    fdOut = envInt('SNAKEPIT_FD_OUT', 4, 0);
    checkFd(fdIn, 'SNAKEPIT_FD_IN');
    checkFd(fdOut, 'SNAKEPIT_FD_OUT');
    exposeBridgeModule();
    registry = require('./lib/registry');
    adapter = await registry.loadAdapter(args['--adapter']);
  } catch (e) {
    if (e instanceof ConfigError || (registry && e instanceof registry.AdapterError)) {
      say(e.message);
      process.exit(EXIT_CONFIG);
    }
    say(`cannot start: ${e && e.stack}`);
    process.exit(EXIT_CONFIG);
  }

  const { BridgeState } = require('./lib/context');
  const { NativeBridge } = require('./lib/runtime');
  const { errorFromException } = require('./lib/errors');
  const state = new BridgeState(adapter);
  const bridge = new NativeBridge(adapter, state, fdIn, fdOut, maxFrame, { say });

  // A command's stray exception (thrown from a timer callback, say) fails
  // the running request instead of killing the worker.
  process.on('uncaughtException', (e) => {
    say(`uncaught exception: ${(e && e.stack) || e}`);
    const req = bridge.current;
    if (req && !req.done) {
      bridge.finish(req, false, errorFromException(e, 'uncaught exception while the command ran: '));
    }
  });
  process.on('unhandledRejection', (e) => {
    say(`unhandled promise rejection: ${(e && e.stack) || e}`);
  });
  // SIGUSR1 (sent by the host before it kills a stuck worker): what runs.
  // Installing it also keeps Node from starting its inspector on SIGUSR1.
  process.on('SIGUSR1', () => {
    const req = bridge.current;
    say(req ? `SIGUSR1: request ${req.id} (${req.name}) has run for `
      + `${Math.round(performance.now() - req.ctx.startedAt)} ms; `
      + `${bridge.calls.size} call(s) waiting for a reply\n${new Error('stack').stack}`
      : 'SIGUSR1: idle');
  });

  watchParent();
  try {
    bridge.sendHello();
  } catch (e) {
    say(`cannot send hello: ${e.message}`);
    process.exit(EXIT_OK);
  }
  bridge.start();
}

module.exports = { EXIT_OK, EXIT_CONFIG, EXIT_PROTOCOL };

if (require.main === module) {
  main(process.argv.slice(2));
}
