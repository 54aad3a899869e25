'use strict';
// Snakepit Node.js bridge: the API adapters use.
//
//   const { command, InvalidArgument } = require('snakepit_bridge');
//   exports.add = command((ctx, { a, b }) => ({ sum: a + b }), { params: ['a', 'b'] });
//
// (main.js puts this directory on the module search path, so
// require('snakepit_bridge') works from any adapter; a path works too.)
// See README.md and docs/protocol.md.

const errors = require('./lib/errors');
const { Context, Session, BridgeState } = require('./lib/context');
const { command } = require('./lib/registry');
const { VERSION } = require('./lib/runtime');

module.exports = {
  version: VERSION,
  command,
  Context,
  Session,
  BridgeState,
  SnakepitError: errors.SnakepitError,
  InvalidArgument: errors.InvalidArgument,
  NotFound: errors.NotFound,
  FailedPrecondition: errors.FailedPrecondition,
  Unavailable: errors.Unavailable,
  ResourceExhausted: errors.ResourceExhausted,
  Cancelled: errors.Cancelled,
  DeadlineExceeded: errors.DeadlineExceeded,
  Internal: errors.Internal,
  HostCallError: errors.HostCallError,
  hostCallErrorClass: errors.hostCallErrorClass,
};
