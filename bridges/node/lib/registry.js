'use strict';
// Adapter loading and command metadata.
//
// An adapter is a module (CommonJS or ES module). Every exported function
// whose name does not start with "_" is a command (classes are skipped).
// A command is streaming when it is a generator or async generator
// function, when it has `streaming = true`, or when its name is listed in
// the module's `streaming` export (an array of names).
// A command may declare its argument names with `params` (an array:
// "name" required, "name?" optional, "..." any others allowed); without
// `params` any arguments are accepted. command(fn, options) sets both.

const path = require('path');
const { pathToFileURL } = require('url');
const { makeError } = require('./errors');

const GENERIC = path.join(__dirname, '..', 'generic.js');

class AdapterError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AdapterError';
  }
}

function isGeneratorFunction(fn) {
  const name = fn.constructor && fn.constructor.name;
  return name === 'GeneratorFunction' || name === 'AsyncGeneratorFunction';
}

function isClass(fn) {
  try {
    return /^class[\s{]/.test(Function.prototype.toString.call(fn));
  } catch (_) {
    return false;
  }
}

/**
 * Mark `fn` as a command with options {streaming, params}; returns fn.
 *   exports.add = command(function add(ctx, {a, b}) { ... }, {params: ['a', 'b']});
 * Also callable as command(options, fn).
 */
function command(fn, options) {
  if (typeof fn !== 'function' && typeof options === 'function') [fn, options] = [options, fn];
  if (typeof fn !== 'function') throw new TypeError('command() needs a function');
  const opts = options || {};
  if (opts.streaming !== undefined) fn.streaming = Boolean(opts.streaming);
  if (opts.params !== undefined) {
    if (!Array.isArray(opts.params) || !opts.params.every((p) => typeof p === 'string')) {
      throw new TypeError('params must be an array of strings');
    }
    fn.params = opts.params.slice();
  }
  return fn;
}

function parseParams(name, params) {
  if (params === undefined || params === null) return null;
  if (!Array.isArray(params) || !params.every((p) => typeof p === 'string' && p)) {
    throw new AdapterError(`command '${name}': params must be an array of non-empty strings`);
  }
  const spec = { names: new Set(), required: [], rest: false };
  for (const p of params) {
    if (p === '...') {
      spec.rest = true;
    } else if (p.endsWith('?')) {
      spec.names.add(p.slice(0, -1));
    } else {
      spec.names.add(p);
      spec.required.push(p);
    }
  }
  return spec;
}

/** A loaded command: fn, streaming, and the argument check. */
class Command {
  constructor(name, fn, streaming) {
    this.name = name;
    this.fn = fn;
    this.streaming = streaming;
    this.params = parseParams(name, fn.params);
  }

  /** null, or the message of a TypeError when args do not fit params. */
  checkArgs(args) {
    const spec = this.params;
    if (!spec) return null;
    for (const p of spec.required) {
      if (!Object.prototype.hasOwnProperty.call(args, p)) {
        return `${this.name}(): missing a required argument: '${p}'`;
      }
    }
    if (!spec.rest) {
      for (const k of Object.keys(args)) {
        if (!spec.names.has(k)) return `${this.name}(): got an unexpected keyword argument '${k}'`;
      }
    }
    return null;
  }
}

class Adapter {
  constructor(spec, commands, module) {
    this.spec = spec;
    this.commands = commands; // Map name -> Command
    this.module = module;
    this.commandNames = [...commands.keys()].sort();
  }
}

function commandsOf(exportsObj, where) {
  const commands = new Map();
  if (exportsObj === null || (typeof exportsObj !== 'object' && typeof exportsObj !== 'function')) {
    return commands;
  }
  let streamingList = exportsObj.streaming;
  if (streamingList !== undefined && !Array.isArray(streamingList)) {
    if (typeof streamingList === 'function') {
      streamingList = undefined; // a command named "streaming"
    } else {
      throw new AdapterError(`${where}: the "streaming" export must be an array of command names`);
    }
  }
  const streamingNames = new Set(streamingList || []);
  for (const name of Object.keys(exportsObj)) {
    if (name.startsWith('_') || name === 'default') continue;
    let fn;
    try {
      fn = exportsObj[name];
    } catch (_) {
      continue;
    }
    if (typeof fn !== 'function' || isClass(fn)) continue;
    const streaming = isGeneratorFunction(fn) || fn.streaming === true || streamingNames.has(name);
    commands.set(name, new Command(name, fn, streaming));
  }
  for (const name of streamingNames) {
    if (!commands.has(name)) {
      throw new AdapterError(`${where}: "streaming" lists '${name}', which is not a command`);
    }
  }
  return commands;
}

function resolveSpec(spec) {
  if (spec === 'generic' || spec === 'snakepit_bridge.generic') return GENERIC;
  const looksLikePath = spec.includes('/') || spec.includes('\\') || spec.startsWith('.')
    || /\.(c|m)?js$/.test(spec);
  const cwd = process.cwd();
  if (looksLikePath) return require.resolve(path.resolve(cwd, spec));
  try {
    return require.resolve(spec, { paths: [cwd] });
  } catch (e) {
    try {
      return require.resolve(path.resolve(cwd, spec));
    } catch (_) {
      throw e;
    }
  }
}

/** Load the adapter `spec` (a path or module name); rejects with AdapterError. */
async function loadAdapter(spec) {
  if (typeof spec !== 'string' || !spec) throw new AdapterError('no adapter given (--adapter)');
  let file;
  let mod;
  try {
    file = resolveSpec(spec);
    if (file.endsWith('.mjs')) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (e) {
        if (!e || e.code !== 'ERR_REQUIRE_ESM') throw e;
        mod = await import(pathToFileURL(file).href);
      }
    }
  } catch (e) {
    const what = e && e.name ? `${e.name}: ${e.message}` : String(e);
    throw new AdapterError(`cannot load adapter module '${spec}': ${what}`);
  }
  let source = mod;
  // An ES module with only a default export object: its functions.
  if (mod && typeof mod === 'object' && Object.prototype.toString.call(mod) === '[object Module]') {
    const named = Object.keys(mod).filter((k) => k !== 'default' && typeof mod[k] === 'function');
    if (!named.length && mod.default && typeof mod.default === 'object') source = mod.default;
  }
  const commands = commandsOf(source, spec);
  if (!commands.size) throw new AdapterError(`adapter '${spec}' exports no command functions`);
  return new Adapter(spec, commands, mod);
}

function unknownCommandError(name, commands) {
  return makeError('InvalidArgument', 'UnknownCommand',
                   `unknown command '${name}'; available: ${[...commands.keys()].sort().join(', ')}`);
}

module.exports = {
  AdapterError, Adapter, Command, command, commandsOf, loadAdapter, unknownCommandError,
  isGeneratorFunction, GENERIC,
};
