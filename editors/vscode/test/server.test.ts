// The extension's task logic against the real server, over stdio, where the
// server is installed (ASSISTANT_ROUTER_BIN, the repository's .venv, or PATH):
// the table the extension reads from the initialize result is the one
// `assistant.tasks` answers, and a task name the server lacks is the
// server's to report. Skipped, with the reason, where there is no server.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { SERVER_COMMANDS } from "../src/logic/contributions";
import { buildInitializationOptions, resolveCommand } from "../src/logic/settings";
import { TaskTable, taskPicks } from "../src/logic/tasks";

const root = join(__dirname, "..");

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findServer(): string | undefined {
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

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { message: string };
}

/** Just enough of an LSP client: Content-Length framing, requests and notifications. */
class Connection {
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

const server = findServer();

describe("the real server's task table", { skip: server ? false : "no assistant-router server installed", timeout: 60_000 }, () => {
  let tmp = "";
  let child: ChildProcessWithoutNullStreams;
  let connection: Connection;
  let capabilities: unknown;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "assistant-router-vscode-"));
    writeFileSync(join(tmp, "config.toml"), '[models.codex]\nprovider = "mock"\n[models.opus]\nprovider = "mock"\n');
    const env: Record<string, string | undefined> = { ...process.env, ASSISTANT_ROUTER_CONFIG: join(tmp, "config.toml") };
    for (const name of ["XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"]) {
      env[name] = join(tmp, name.toLowerCase());
    }
    child = spawn(server!, ["serve"], { env, cwd: tmp, stdio: "pipe" });
    connection = new Connection(child);
    const init = buildInitializationOptions({ tasks: ["review", "no-such-task"], statusBar: false });
    const result = (await connection.request("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: init.value,
    })) as { capabilities?: unknown };
    capabilities = result.capabilities;
    connection.notify("initialized", {});
  });

  after(async () => {
    if (connection) {
      await connection.request("shutdown", null).catch(() => undefined);
      connection.notify("exit", null);
    }
    await new Promise<void>((done) => (child && child.exitCode === null ? child.once("exit", () => done()) : done()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it("comes in the initialize result, in the shape the extension reads", () => {
    const table = TaskTable.fromCapabilities(capabilities);
    assert.ok(table, "capabilities.experimental.assistantRouter.tasks");
    assert.ok(table.rows.length > 0);
    for (const row of table.rows) {
      assert.ok(row.title && row.verb && row.result && row.codeActionKind, row.name);
      assert.ok(["edit", "diagnostics", "document"].includes(row.delivery), `${row.name}: ${row.delivery}`);
      assert.ok(["line", "cursor"].includes(row.emptySelection), `${row.name}: ${row.emptySelection}`);
    }
  });

  it("is the same table assistant.tasks answers", async () => {
    const answer = await connection.request("workspace/executeCommand", { command: SERVER_COMMANDS.tasks, arguments: [] });
    assert.deepEqual(TaskTable.fromCommandResult(answer)?.rows, TaskTable.fromCapabilities(capabilities)?.rows);
  });

  it("makes the quick pick: the offered tasks with the server's titles and results", () => {
    const table = TaskTable.fromCapabilities(capabilities)!;
    const review = table.get("review")!;
    assert.deepEqual(taskPicks(table, ["review", "no-such-task"]), [{ label: review.title, description: review.result, task: "review" }]);
    assert.deepEqual(table.unknown(["review", "no-such-task"]), ["no-such-task"]);
  });

  it("leaves a name the server lacks to the server, which warns about it and applies the rest", async () => {
    const warning = await connection.notification(
      (m) => m.method === "window/showMessage" && /ignored part of initializationOptions/.test((m.params as { message: string }).message),
    );
    const { type, message } = warning.params as { type: number; message: string };
    assert.equal(type, 2); // Warning
    assert.ok(message.startsWith("assistant-router: ignored part of initializationOptions ("), message);
    assert.match(message, /no-such-task/);
  });
});
