/** Base class of every error this package throws, so callers can tell ours from anything else. */
export class EufyClientError extends Error {
  override name = 'EufyClientError';
}

/** The server answered the command with `success: false`; `errorCode` is its code (it sends no text). */
export class CommandFailedError extends EufyClientError {
  override name = 'CommandFailedError';
  constructor(
    readonly command: string,
    readonly messageId: string,
    readonly errorCode: string,
  ) {
    super(`eufy-security-ws command ${command} (${messageId}) failed: ${errorCode}`);
  }
}

/** No result arrived in time. The server may still run the command; its late result is dropped. */
export class CommandTimeoutError extends EufyClientError {
  override name = 'CommandTimeoutError';
  constructor(
    readonly command: string,
    readonly messageId: string,
    readonly timeoutMs: number,
  ) {
    super(`eufy-security-ws command ${command} (${messageId}) got no result within ${timeoutMs} ms`);
  }
}

/** The command could not be sent, or its connection closed before the result came. */
export class NotConnectedError extends EufyClientError {
  override name = 'NotConnectedError';
  constructor(
    readonly command: string,
    why: string,
  ) {
    super(`eufy-security-ws command ${command} not completed: ${why}`);
  }
}

/** The server's result did not have the shape the command promises (a server we do not understand). */
export class UnexpectedResultError extends EufyClientError {
  override name = 'UnexpectedResultError';
  constructor(
    readonly command: string,
    detail: string,
  ) {
    super(`eufy-security-ws command ${command} returned an unexpected result: ${detail}`);
  }
}

/**
 * The server's schema range does not overlap ours. Reconnecting cannot fix this (the server must be
 * upgraded or downgraded), so the client stops and reports it instead of retrying forever.
 */
export class SchemaIncompatibleError extends EufyClientError {
  override name = 'SchemaIncompatibleError';
  constructor(
    readonly server: { serverVersion: string; minSchemaVersion: number; maxSchemaVersion: number },
    readonly client: { minSchemaVersion: number; maxSchemaVersion: number },
  ) {
    super(
      `eufy-security-ws ${server.serverVersion} speaks API schema ${server.minSchemaVersion}..${server.maxSchemaVersion}, ` +
        `this client needs ${client.minSchemaVersion}..${client.maxSchemaVersion}: upgrade eufy-security-ws`,
    );
  }
}
