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

  get messages(): Json[] {
    return this.frames.map((f) => JSON.parse(f) as Json);
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
      const raw = this.frames.find((f) => match(JSON.parse(f) as Json));
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

  close(): void {
    this.ws.terminate();
  }
}
