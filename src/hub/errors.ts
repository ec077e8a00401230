/**
 * A request the hub refuses: an HTTP status, a code from the protocol's closed set, and a
 * message for the person reading the agent's status. The API layer turns it into
 * `{error, message}`; anything else thrown is a 500 that says nothing about the cause.
 */
import type { ProtocolErrorCode } from './protocol.js';

export class HubRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HubRefusal';
  }
}
