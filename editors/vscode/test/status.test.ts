import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type StatusPayload, idleStatusBarView, parseStatus, statusBarView as statusBarViewWith, type ServerState } from "../src/logic/status";
import { TABLE } from "./fixtures";

// Tasks go by their titles in the server's table.
const statusBarView = (s: StatusPayload) => statusBarViewWith(s, TABLE);

// What the server sends (server/runner.py, _notify_status).
const applied = {
  task: "refactor",
  alias: "opus",
  provider: "anthropic",
  model: "claude-opus-4-6",
  status: "applied",
  fallback: false,
  usage: { input_tokens: 1834, output_tokens: 412 },
  elapsed_ms: 2630,
  message: null,
};

describe("parseStatus", () => {
  it("reads the server's payload", () => {
    assert.deepEqual(parseStatus(applied), {
      task: "refactor",
      alias: "opus",
      provider: "anthropic",
      model: "claude-opus-4-6",
      status: "applied",
      fallback: false,
      inputTokens: 1834,
      outputTokens: 412,
      elapsedMs: 2630,
      message: undefined,
    });
  });
  it("takes nulls for what the server does not know", () => {
    const s = parseStatus({ task: "review", status: "failed", alias: null, provider: null, model: null, usage: null, fallback: null, elapsed_ms: null, message: "bad key" });
    assert.deepEqual(s, {
      task: "review",
      alias: undefined,
      provider: undefined,
      model: undefined,
      status: "failed",
      fallback: false,
      inputTokens: undefined,
      outputTokens: undefined,
      elapsedMs: undefined,
      message: "bad key",
    });
  });
  it("rejects what is not a status", () => {
    for (const raw of [null, undefined, 3, "applied", [], {}, { task: "review" }, { status: "applied" }, { task: 1, status: "x" }]) {
      assert.equal(parseStatus(raw), undefined, JSON.stringify(raw));
    }
  });
  it("ignores wrongly typed fields instead of failing", () => {
    const s = parseStatus({ task: "test", status: "applied", usage: { input_tokens: "12", output_tokens: Number.NaN }, elapsed_ms: "3", fallback: "yes" });
    assert.equal(s?.inputTokens, undefined);
    assert.equal(s?.outputTokens, undefined);
    assert.equal(s?.elapsedMs, undefined);
    assert.equal(s?.fallback, false);
  });
});

describe("statusBarView", () => {
  it("shows the model and the outcome", () => {
    const view = statusBarView(parseStatus(applied)!);
    assert.equal(view.text, "$(check) claude-opus-4-6 · applied");
    assert.equal(view.severity, "normal");
  });
  it("puts the task, model, tokens and time in the tooltip", () => {
    const { tooltip } = statusBarView(parseStatus(applied)!);
    const lines = tooltip.split("  \n");
    assert.deepEqual(lines, [
      "**Refactor** · opus (anthropic claude-opus-4-6): edit applied",
      "Tokens: 1,834 in · 412 out",
      "Elapsed: 2.6 s",
      "_Click to show the route for refactor_",
    ]);
  });
  it("clicks through to the route of the same task", () => {
    assert.deepEqual(statusBarView(parseStatus(applied)!).click, {
      command: "assistantRouter.showRoute",
      args: [{ task: "refactor" }],
    });
  });
  it("marks a fallback, in the text, the tooltip and the colour", () => {
    const view = statusBarView(
      parseStatus({ ...applied, task: "review", status: "shown", alias: "codex", provider: "openai", model: "gpt-5.3-codex", fallback: true })!,
    );
    assert.equal(view.text, "$(eye) gpt-5.3-codex · shown (fallback)");
    assert.match(view.tooltip, /Fallback: yes/);
    assert.match(view.tooltip, /\*\*Review\*\* · codex \(openai gpt-5\.3-codex\): result shown/);
    assert.equal(view.severity, "warning");
  });
  it("shows a failure as an error with the server's message, escaped", () => {
    const view = statusBarView(
      parseStatus({ ...applied, status: "failed", usage: null, elapsed_ms: 90, message: "invalid key <sk-*> for `opus`" })!,
    );
    assert.equal(view.text, "$(error) claude-opus-4-6 · failed");
    assert.equal(view.severity, "error");
    assert.ok(!view.tooltip.includes("Tokens"));
    assert.match(view.tooltip, /Elapsed: 90 ms/);
    assert.ok(view.tooltip.includes("Message: invalid key \\<sk-\\*\\> for \\`opus\\`"));
  });
  it("shows a cancel", () => {
    const view = statusBarView(parseStatus({ ...applied, status: "cancelled", message: "cancelled; nothing was applied" })!);
    assert.equal(view.text, "$(circle-slash) claude-opus-4-6 · cancelled");
    assert.equal(view.severity, "normal");
    assert.match(view.tooltip, /Message: cancelled; nothing was applied/);
  });
  it("shows a refusal as a warning: nothing was sent", () => {
    const view = statusBarView(parseStatus({ ...applied, status: "refused", message: "not sent: budget today" })!);
    assert.equal(view.text, "$(circle-slash) claude-opus-4-6 · refused");
    assert.equal(view.severity, "warning");
    assert.match(view.tooltip, /refused: nothing was sent/);
  });
  it("shows an edit held back by its checks as a warning", () => {
    const view = statusBarView(parseStatus({ ...applied, status: "held", message: "not applied" })!);
    assert.equal(view.text, "$(shield) claude-opus-4-6 · held");
    assert.equal(view.severity, "warning");
    assert.match(view.tooltip, /the edit failed its checks/);
  });
  it("falls back to the alias, then the product name, when the model is unknown", () => {
    assert.equal(statusBarView(parseStatus({ task: "fix", status: "failed", alias: "codex" })!).text, "$(error) codex · failed");
    const bare = statusBarView(parseStatus({ task: "fix", status: "failed" })!);
    assert.equal(bare.text, "$(error) assistant-router · failed");
    assert.match(bare.tooltip, /\*\*Fix\*\* · an unknown model: failed/);
  });
  it("shows only the token counts it has", () => {
    const view = statusBarView(parseStatus({ ...applied, usage: { output_tokens: 12000 } })!);
    assert.match(view.tooltip, /Tokens: 12,000 out/);
  });
  it("copes with a status it does not know", () => {
    const view = statusBarView(parseStatus({ ...applied, status: "queued" })!);
    assert.equal(view.text, "$(info) claude-opus-4-6 · queued");
    assert.match(view.tooltip, /: queued/);
  });
});

describe("idleStatusBarView", () => {
  it("has a view for every server state", () => {
    const states: ServerState[] = ["starting", "running", "stopped", "notFound"];
    for (const state of states) {
      const view = idleStatusBarView(state);
      assert.match(view.text, /assistant-router$/);
      assert.ok(view.tooltip.length > 0);
    }
  });
  it("spins while starting and routes on click when running", () => {
    assert.match(idleStatusBarView("starting").text, /sync~spin/);
    assert.deepEqual(idleStatusBarView("running").click, { command: "assistantRouter.showRoute", args: [] });
  });
  it("restarts a stopped server and opens the settings for a missing one", () => {
    assert.equal(idleStatusBarView("stopped").click.command, "assistantRouter.restartServer");
    assert.equal(idleStatusBarView("stopped").severity, "warning");
    assert.equal(idleStatusBarView("notFound").click.command, "assistantRouter.openSettings");
    assert.equal(idleStatusBarView("notFound").severity, "error");
  });
});
