// Just enough of an LSP client for the tests that run the real server over
// stdio, and where to find that server (ASSISTANT_ROUTER_BIN, the
// repository's .venv, or PATH).
import { type ChildProcessWithoutNullStreams } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";

import { resolveCommand } from "../src/logic/settings";

const root = join(__dirname, "..");

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function findServer(): string | undefined {
  for (const command of [process.env.ASSISTANT_ROUTER_BIN, join(root, "..", "..", ".venv", "bin", "assistant-router"), "assistant-router"]) {
    if (command) {
      const found = resolveCommand(command, { platform: process.platform, pathEnv: process.env.PATH, isExecutable });
      if (found.found) {
        return found.path;
      }
    }
  }
  return undefined;
}

export interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { message: string };
}

/** Just enough of an LSP client: Content-Length framing, requests and notifications. */
export class Connection {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (m: Message) => void>();
  readonly notifications: Message[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (chunk: Buffer) => this.receive(chunk));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) {
        return;
      }
      const length = Number(/Content-Length: *(\d+)/i.exec(this.buffer.subarray(0, end).toString("ascii"))?.[1]);
      if (this.buffer.length < end + 4 + length) {
        return;
      }
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString("utf8")) as Message;
      this.buffer = this.buffer.subarray(end + 4 + length);
      if (message.method !== undefined && message.id !== undefined) {
        this.send({ id: message.id, result: null }); // a request from the server (e.g. registerCapability)
      } else if (message.method !== undefined) {
        this.notifications.push(message);
        this.waiters.splice(0).forEach((wake) => wake());
      } else if (message.id !== undefined) {
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
      }
    }
  }

  private send(message: object): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }

  request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      this.send({ id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  /** The first notification that `matches`, waiting for it to arrive (the test's own timeout bounds the wait). */
  async notification(matches: (m: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.notifications.find(matches);
      if (found) {
        return found;
      }
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }
}
