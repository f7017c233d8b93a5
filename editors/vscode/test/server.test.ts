// The extension's task logic against the real server, over stdio, where the
// server is installed (ASSISTANT_ROUTER_BIN, the repository's .venv, or PATH):
// the table the extension reads from the initialize result is the one
// `assistant.tasks` answers, and a task name the server lacks is the
// server's to report. Skipped, with the reason, where there is no server.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { SERVER_COMMANDS } from "../src/logic/contributions";
import { buildInitializationOptions } from "../src/logic/settings";
import { TaskTable, taskPicks } from "../src/logic/tasks";
import { Connection, findServer } from "./lsp";

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
