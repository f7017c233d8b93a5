import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatClassification, formatPreviewResult, formatRoute as formatRouteWith, formatRunResult as formatRunResultWith } from "../src/logic/messages";
import { TABLE } from "./fixtures";

// Tasks go by their titles in the server's table.
const formatRoute = (raw: unknown, prompt?: string) => formatRouteWith(raw, prompt, TABLE);
const formatRunResult = (raw: unknown, prompt?: string) => formatRunResultWith(raw, prompt, TABLE);

// The README's examples of the server's results.
const route = {
  task: "review",
  alias: "opus",
  provider: "anthropic",
  model: "claude-opus-4-6",
  chain: [
    { alias: "opus", provider: "anthropic", model: "claude-opus-4-6" },
    { alias: "codex", provider: "openai", model: "gpt-5.3-codex" },
  ],
  reason: "built-in default route: review → opus, codex",
};

const run = {
  task: "review",
  alias: "codex",
  provider: "openai",
  model: "gpt-5.3-codex",
  status: "shown",
  reason: "built-in default route: review → opus, codex",
  fallback: true,
  attempts: [],
  usage: { input_tokens: 1834, output_tokens: 412 },
  elapsed_ms: 2630,
  diagnostics: 3,
};

describe("formatRoute", () => {
  it("names the model, the fallbacks and the reason", () => {
    assert.equal(
      formatRoute(route),
      "Review → opus (anthropic claude-opus-4-6), then codex (openai gpt-5.3-codex). " +
        "Reason: built-in default route: review → opus, codex.",
    );
  });
  it("leaves out the fallbacks of a one-model chain", () => {
    const text = formatRoute({ ...route, chain: [route.chain[0]], reason: 'rule #1 "legacy refactors" at /repo/.assistant-router.toml:1.' });
    assert.equal(text, 'Review → opus (anthropic claude-opus-4-6). Reason: rule #1 "legacy refactors" at /repo/.assistant-router.toml:1.');
  });
  it("starts with the classification of a prompt", () => {
    const text = formatRoute(
      { ...route, classification: { task: "review", confidence: 0.8234, likely: ["review"], reason: "words: check" } },
      "check this for bugs",
    );
    assert.ok(text.startsWith("“check this for bugs” reads as review (confidence 0.82). Review → opus"), text);
  });
  it("copes with a result missing its parts", () => {
    assert.equal(formatRoute({}), "? → an unknown model.");
    assert.equal(formatRoute(null), "? → an unknown model.");
    assert.equal(formatRoute({ task: "fix", alias: "codex", chain: "nonsense" }), "Fix → codex.");
  });
});

describe("formatClassification", () => {
  it("says how the task was chosen", () => {
    assert.equal(formatClassification({ task: "test", confidence: 0.9, chosen_by: "classifier" }, "add tests"), "“add tests” reads as test (confidence 0.90)");
    assert.equal(formatClassification({ task: "debug", confidence: 0.3, chosen_by: "user" }, "hmm"), "“hmm” you chose debug");
    assert.equal(formatClassification({ task: "explain" }), "The request reads as explain");
    assert.equal(formatClassification(undefined), undefined);
    assert.equal(formatClassification({ confidence: 1 }), undefined);
  });
});

describe("formatRunResult", () => {
  it("reports a review shown, with findings, time, tokens and the fallback", () => {
    assert.deepEqual(formatRunResult(run), {
      level: "info",
      text: "Review by codex (openai gpt-5.3-codex): 3 findings shown (2.6 s, 412 tokens, after a fallback).",
      notify: true,
    });
  });
  it("reports an applied edit, after the classification of the request", () => {
    const notice = formatRunResult(
      {
        ...run,
        task: "test",
        status: "applied",
        fallback: false,
        diagnostics: undefined,
        elapsed_ms: 900,
        usage: { input_tokens: 10, output_tokens: 1 },
        classification: { task: "test", confidence: 0.95, likely: ["test"], reason: "", chosen_by: "classifier" },
      },
      "write tests",
    );
    assert.equal(notice.text, "“write tests” reads as test (confidence 0.95). Test by codex (openai gpt-5.3-codex): edit applied (900 ms, 1 token).");
    assert.equal(notice.level, "info");
    assert.ok(notice.notify);
  });
  it("says one finding, and a document shown", () => {
    assert.match(formatRunResult({ ...run, diagnostics: 1 }).text, /1 finding shown/);
    assert.match(formatRunResult({ ...run, task: "explain", diagnostics: undefined }).text, /Explain by codex \(openai gpt-5\.3-codex\): result shown/);
  });
  it("logs a failure without a second notification (the server has shown it)", () => {
    const notice = formatRunResult({ ...run, status: "failed", message: "invalid API key for openai.", fallback: false, elapsed_ms: 40 });
    assert.deepEqual(notice, {
      level: "error",
      text: "Review failed with codex (openai gpt-5.3-codex): invalid API key for openai (40 ms).",
      notify: false,
    });
  });
  it("says a refused task was not sent, and why, without a second notification", () => {
    const notice = formatRunResult({ ...run, status: "refused", message: "nothing was sent: legacy/old.py is excluded." });
    assert.deepEqual(notice, {
      level: "warning",
      text: "Review not sent: nothing was sent: legacy/old.py is excluded.",
      notify: false,
    });
  });
  it("logs an edit held back by its checks, without a second notification", () => {
    const notice = formatRunResult({ ...run, task: "fix", status: "held",
      message: "not applied: codex's edit failed its checks (syntax error at line 4)" });
    assert.deepEqual(notice, {
      level: "warning",
      text: "Fix by codex (openai gpt-5.3-codex): not applied: codex's edit failed its checks (syntax error at line 4).",
      notify: false,
    });
    assert.match(formatRunResult({ ...run, task: "fix", status: "applied", escalated: true }).text,
      /escalated: the first answer failed its checks/);
  });
  it("logs a cancel quietly", () => {
    const notice = formatRunResult({ ...run, status: "cancelled", message: "cancelled; nothing was applied" });
    assert.equal(notice.text, "Review cancelled: cancelled; nothing was applied.");
    assert.equal(notice.notify, false);
  });
  it("handles an ask whose task the user did not choose", () => {
    const notice = formatRunResult(
      { status: "cancelled", message: "no task chosen", classification: { task: "review", confidence: 0.2, likely: [], reason: "" } },
      "hmm",
    );
    assert.equal(notice.text, "“hmm” reads as review (confidence 0.20). Nothing was done: no task chosen.");
    assert.equal(notice.notify, false);
  });
  it("warns about a status it does not know", () => {
    const notice = formatRunResult({ ...run, status: "queued" });
    assert.equal(notice.level, "warning");
    assert.match(notice.text, /ended with status "queued"/);
    assert.equal(formatRunResult({ task: "fix" }).text, 'Fix ended with status "unknown".');
  });
});

describe("formatPreviewResult", () => {
  it("adds nothing when the server opened the preview", () => {
    assert.equal(formatPreviewResult({ ...route, status: "preview", sent: false, document: "file:///tmp/preview.md" }), undefined);
  });
  it("warns when the request would be refused", () => {
    assert.deepEqual(formatPreviewResult({ task: "review", sent: false, status: "refused", message: "nothing was sent: secrets/key.pem is excluded" }), {
      level: "warning",
      text: "Preview refused: nothing was sent: secrets/key.pem is excluded.",
      notify: true,
    });
  });
  it("summarises a preview that was not opened", () => {
    assert.deepEqual(formatPreviewResult({ ...route, status: "preview", sent: false, input_tokens: 2048 }), {
      level: "info",
      text: "Preview of review for opus (anthropic claude-opus-4-6): about 2,048 input tokens. Nothing was sent.",
      notify: true,
    });
  });
});
