// Inline completion: the setting, what the server's initialize result and
// `assistant.route` answers become (the completion status bar item), and the
// same against the real server over stdio (offline), where it is installed.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  ACCEPTED_COMMAND,
  COMPLETE_TASK,
  INLINE_DEFAULT,
  INLINE_SETTING,
  completionRouteArgs,
  completionStatusView,
  inlineCompletionEnabled,
  serverOffersInlineCompletion,
} from "../src/logic/completion";
import { OPEN_SETTINGS_COMMAND, SERVER_COMMANDS } from "../src/logic/contributions";
import { needsRestart } from "../src/logic/settings";
import { Connection, findServer } from "./lsp";

// What the server answers (routing/router.py Decision.to_json, plus the estimate).
const ROUTE = {
  task: "complete",
  alias: "codex-mini",
  provider: "openai",
  model: "gpt-5.1-codex-mini",
  chain: [
    { alias: "codex-mini", provider: "openai", model: "gpt-5.1-codex-mini" },
    { alias: "haiku", provider: "anthropic", model: "claude-haiku-4-5" },
  ],
  reason: "built-in default route: complete → codex-mini, haiku",
  estimate: { input_tokens: 120, cost_usd: 0.0001 },
};

describe("inlineCompletionEnabled", () => {
  it("is on by default", () => {
    assert.equal(INLINE_DEFAULT, true);
    assert.deepEqual(inlineCompletionEnabled(undefined), { value: true, warnings: [] });
    assert.deepEqual(inlineCompletionEnabled(null), { value: true, warnings: [] });
  });
  it("takes the user's boolean", () => {
    assert.deepEqual(inlineCompletionEnabled(false), { value: false, warnings: [] });
    assert.deepEqual(inlineCompletionEnabled(true), { value: true, warnings: [] });
  });
  it("warns about anything else and keeps the default", () => {
    const { value, warnings } = inlineCompletionEnabled("no");
    assert.equal(value, true);
    assert.deepEqual(warnings, ["assistantRouter.inlineCompletion.enabled: expected true or false; using true"]);
  });
  it("restarts the server when it changes (the capability is declared at initialize)", () => {
    const changed = (section: string) => (s: string) => section === s || section.startsWith(`${s}.`);
    assert.ok(needsRestart(changed(`assistantRouter.${INLINE_SETTING}`)));
  });
});

describe("serverOffersInlineCompletion", () => {
  it("reads inlineCompletionProvider: true or options", () => {
    assert.equal(serverOffersInlineCompletion({ inlineCompletionProvider: {} }), true);
    assert.equal(serverOffersInlineCompletion({ inlineCompletionProvider: true }), true);
  });
  it("is false when it is left out, null or false", () => {
    assert.equal(serverOffersInlineCompletion({}), false);
    assert.equal(serverOffersInlineCompletion({ inlineCompletionProvider: null }), false);
    assert.equal(serverOffersInlineCompletion({ inlineCompletionProvider: false }), false);
    assert.equal(serverOffersInlineCompletion(undefined), false);
  });
});

describe("completionRouteArgs", () => {
  it("asks for the complete task at the cursor, an empty range", () => {
    assert.deepEqual(completionRouteArgs("file:///p/a.py", { line: 3, character: 7 }), {
      task: "complete",
      uri: "file:///p/a.py",
      range: { start: { line: 3, character: 7 }, end: { line: 3, character: 7 } },
    });
  });
});

describe("completionStatusView", () => {
  it("names the alias, with the chain and the reason in the tooltip", () => {
    const view = completionStatusView(ROUTE)!;
    assert.equal(view.text, "$(zap) codex-mini");
    assert.equal(
      view.tooltip,
      "**Inline completions** · codex-mini (openai gpt-5.1-codex-mini)  \n" +
        "Then: haiku (anthropic claude-haiku-4-5)  \n" +
        "Reason: built-in default route: complete → codex-mini, haiku  \n" +
        "_Click to open the setting assistantRouter.inlineCompletion.enabled_",
    );
    assert.equal(view.severity, "normal");
    assert.deepEqual(view.click, { command: OPEN_SETTINGS_COMMAND, args: ["assistantRouter.inlineCompletion.enabled"] });
  });
  it("follows the policy's route and escapes what the server wrote", () => {
    const view = completionStatusView({ task: "complete", alias: "local_fim", provider: "ollama", model: "qwen*coder", chain: [], reason: "[routes] complete at x.toml:3" })!;
    assert.equal(view.text, "$(zap) local_fim");
    assert.match(view.tooltip, /local\\_fim \(ollama qwen\\\*coder\)/);
    assert.ok(!view.tooltip.includes("Then:"));
  });
  it("is undefined for another task's route, an error or nothing", () => {
    assert.equal(completionStatusView({ ...ROUTE, task: "review" }), undefined);
    assert.equal(completionStatusView({ task: "complete" }), undefined);
    assert.equal(completionStatusView(null), undefined);
    assert.equal(completionStatusView("complete"), undefined);
  });
});

// --------------------------------------------------------------------------
// The real server, offline (`offline = true`: the mock answers the complete task).

const server = findServer();
const SOURCE = "def add(a, b):\n    \n";

async function startServer(tmp: string, capabilities: object): Promise<{ child: ChildProcessWithoutNullStreams; connection: Connection; result: unknown }> {
  const env: Record<string, string | undefined> = { ...process.env, ASSISTANT_ROUTER_CONFIG: join(tmp, "config.toml") };
  delete env.OPENAI_API_KEY;
  delete env.ANTHROPIC_API_KEY;
  for (const name of ["XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"]) {
    env[name] = join(tmp, name.toLowerCase());
  }
  const child = spawn(server!, ["serve"], { env, cwd: tmp, stdio: "pipe" });
  child.stderr.resume(); // its log: unread, a full pipe would stop the server
  const connection = new Connection(child);
  const result = await connection.request("initialize", {
    processId: process.pid,
    rootUri: null,
    capabilities,
    initializationOptions: { status_notifications: false },
  });
  connection.notify("initialized", {});
  return { child, connection, result };
}

async function stopServer(started: { child: ChildProcessWithoutNullStreams; connection: Connection } | undefined): Promise<void> {
  if (started === undefined) {
    return;
  }
  await started.connection.request("shutdown", null).catch(() => undefined);
  started.connection.notify("exit", null);
  await new Promise<void>((done) => (started.child.exitCode === null ? started.child.once("exit", () => done()) : done()));
}

describe("inline completion from the real server", { skip: server ? false : "no assistant-router server installed", timeout: 60_000 }, () => {
  let tmp = "";
  let declared: Awaited<ReturnType<typeof startServer>> | undefined;
  let undeclared: Awaited<ReturnType<typeof startServer>> | undefined;
  let uri = "";

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "assistant-router-vscode-inline-"));
    writeFileSync(join(tmp, "config.toml"), "offline = true\n");
    writeFileSync(join(tmp, "add.py"), SOURCE);
    uri = `file://${join(tmp, "add.py")}`;
    // What vscode-languageclient's InlineCompletionItemFeature declares, and a client without it.
    [declared, undeclared] = await Promise.all([
      startServer(tmp, { textDocument: { inlineCompletion: { dynamicRegistration: true } } }),
      startServer(tmp, {}),
    ]);
    declared.connection.notify("textDocument/didOpen", { textDocument: { uri, languageId: "python", version: 1, text: SOURCE } });
  });

  after(async () => {
    await Promise.all([stopServer(declared), stopServer(undeclared)]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("is offered only to a client that declares it (the setting off declares nothing)", () => {
    const capabilities = (result: unknown) => (result as { capabilities?: unknown }).capabilities;
    assert.equal(serverOffersInlineCompletion(capabilities(declared!.result)), true);
    assert.equal(serverOffersInlineCompletion(capabilities(undeclared!.result)), false);
    const commands = (capabilities(declared!.result) as { executeCommandProvider: { commands: string[] } }).executeCommandProvider.commands;
    assert.ok(commands.includes(ACCEPTED_COMMAND), "the acceptance command is advertised, so VS Code can run it");
  });

  it("routes the complete task: the status bar item names its model", async () => {
    const route = await declared!.connection.request("workspace/executeCommand", {
      command: SERVER_COMMANDS.route,
      arguments: [completionRouteArgs(uri, { line: 1, character: 4 })],
    });
    assert.equal((route as { task?: unknown }).task, COMPLETE_TASK);
    const view = completionStatusView(route);
    assert.ok(view, JSON.stringify(route));
    assert.equal(view.text, "$(zap) codex-mini");
  });

  it("answers an explicit request with an item at the cursor, whose command records the acceptance", async () => {
    const at = { line: 1, character: 4 };
    const answer = (await declared!.connection.request("textDocument/inlineCompletion", {
      textDocument: { uri },
      position: at,
      context: { triggerKind: 1 }, // Invoked
    })) as { items: { insertText: string; range: unknown; command: { command: string; arguments: unknown[] } }[] };
    const [item] = answer.items;
    assert.ok(item, JSON.stringify(answer));
    assert.equal(item.insertText, "mock_value = 1  # completed by mock codex-mini (offline)");
    assert.deepEqual(item.range, { start: at, end: at });
    assert.equal(item.command.command, ACCEPTED_COMMAND);
    await declared!.connection.request("workspace/executeCommand", item.command);
  });
});
