import WebSocket from 'ws';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A bare WebSocket client that keeps every frame the simulator sends (text as received), so tests
 * can look at the wire itself rather than through the eufy client.
 */
export class RawClient {
  readonly frames: string[] = [];
  private nextId = 1;
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(data.toString()));
    ws.on('close', () => (this.closed = true));
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.waitFor((m) => m.type === 'version', 'version');
    return client;
  }

  /** Every frame that is JSON (the simulator can be told to send broken ones). */
  get messages(): Json[] {
    return this.frames.map(parseOrUndefined).filter((m): m is Json => m !== undefined);
  }

  events(name?: string): Json[] {
    return this.messages.filter((m) => m.type === 'event' && (name === undefined || m.event.event === name));
  }

  /** Waits for a frame matching `match` (among all received so far); returns it and its raw text. */
  async waitFor(
    match: (m: Json) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<Json & { raw: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const raw = this.frames.find((f) => {
        const message = parseOrUndefined(f);
        return message !== undefined && match(message);
      });
      if (raw) return Object.assign(JSON.parse(raw) as Json, { raw });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Sends a command and waits for its result. */
  async command(command: string, args: Json = {}, messageId = `${command}.raw-${this.nextId++}`) {
    this.ws.send(JSON.stringify({ ...args, messageId, command }));
    return this.waitFor((m) => m.type === 'result' && m.messageId === messageId, `result of ${command}`);
  }

  async waitForClose(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the socket to close');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

function parseOrUndefined(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}
