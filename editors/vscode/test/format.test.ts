import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { escapeMarkdown, formatCount, formatElapsed, modelLabel } from "../src/logic/format";

describe("formatCount", () => {
  it("groups thousands", () => {
    assert.equal(formatCount(0), "0");
    assert.equal(formatCount(999), "999");
    assert.equal(formatCount(1000), "1,000");
    assert.equal(formatCount(1834), "1,834");
    assert.equal(formatCount(1234567), "1,234,567");
    assert.equal(formatCount(-4200), "-4,200");
    assert.equal(formatCount(12.9), "12");
  });
});

describe("formatElapsed", () => {
  it("uses ms, then s, then minutes", () => {
    assert.equal(formatElapsed(0), "0 ms");
    assert.equal(formatElapsed(412), "412 ms");
    assert.equal(formatElapsed(999.6), "1000 ms");
    assert.equal(formatElapsed(1000), "1.0 s");
    assert.equal(formatElapsed(2630), "2.6 s");
    assert.equal(formatElapsed(12_400), "12 s");
    assert.equal(formatElapsed(60_000), "1 min");
    assert.equal(formatElapsed(65_000), "1 min 5 s");
  });
  it("says ? for nonsense", () => {
    assert.equal(formatElapsed(-1), "?");
    assert.equal(formatElapsed(Number.NaN), "?");
  });
});

describe("escapeMarkdown", () => {
  it("turns off emphasis, code, links, HTML and tables", () => {
    assert.equal(escapeMarkdown("a *b* `c` [d](e) <f> |g| _h_ ~i~ \\"), "a \\*b\\* \\`c\\` \\[d\\](e) \\<f\\> \\|g\\| \\_h\\_ \\~i\\~ \\\\");
  });
  it("keeps model names readable and a message on one line", () => {
    assert.equal(escapeMarkdown("claude-opus-4-6 (anthropic)"), "claude-opus-4-6 (anthropic)");
    assert.equal(escapeMarkdown("one\ntwo\r\nthree"), "one two three");
  });
});

describe("modelLabel", () => {
  it("uses what it has", () => {
    assert.equal(modelLabel("opus", "anthropic", "claude-opus-4-6"), "opus (anthropic claude-opus-4-6)");
    assert.equal(modelLabel("opus", undefined, "claude-opus-4-6"), "opus (claude-opus-4-6)");
    assert.equal(modelLabel("opus", undefined, undefined), "opus");
    assert.equal(modelLabel(undefined, "openai", "gpt-5.3-codex"), "openai gpt-5.3-codex");
    assert.equal(modelLabel(undefined, undefined, undefined), "an unknown model");
  });

  it("names the mock once", () => {
    assert.equal(modelLabel("opus", "mock", "mock"), "opus (mock)");
    assert.equal(modelLabel("opus", "mock", "offline"), "opus (mock offline)");
  });
});
