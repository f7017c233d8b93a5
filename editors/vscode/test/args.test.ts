import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  askRange,
  buildAskArgs,
  buildRouteArgs,
  buildTaskArgs,
  diagnosticsInRange,
  isEmptyRange,
  overlaps,
  taskRange,
  toRange,
} from "../src/logic/args";
import { TABLE } from "./fixtures";

// A task is known by its row in the server's table.
const task = (name: string) => TABLE.get(name);

const pos = (line: number, character: number) => ({ line, character });
const range = (sl: number, sc: number, el: number, ec: number) => ({ start: pos(sl, sc), end: pos(el, ec) });
const URI = "file:///repo/src/app.py";

describe("toRange", () => {
  it("keeps a downward selection", () => {
    assert.deepEqual(toRange(pos(2, 4), pos(5, 1)), range(2, 4, 5, 1));
  });
  it("turns an upward selection round", () => {
    assert.deepEqual(toRange(pos(5, 1), pos(2, 4)), range(2, 4, 5, 1));
    assert.deepEqual(toRange(pos(3, 9), pos(3, 2)), range(3, 2, 3, 9));
  });
  it("copies plain numbers only (a vscode.Position has more)", () => {
    const anchor = { line: 1, character: 2, translate: () => null };
    const r = toRange(anchor, anchor);
    assert.deepEqual(Object.keys(r.start), ["line", "character"]);
    assert.equal(JSON.stringify(r), '{"start":{"line":1,"character":2},"end":{"line":1,"character":2}}');
  });
  it("never sends negative or fractional positions", () => {
    assert.deepEqual(toRange(pos(-1, 2.7), pos(0, 0)), range(0, 0, 0, 2));
  });
});

describe("taskRange", () => {
  it("keeps a real selection for every task", () => {
    for (const name of ["scaffold", "review", "explain"]) {
      assert.deepEqual(taskRange(task(name), range(1, 0, 4, 3), "ignored"), range(1, 0, 4, 3));
    }
  });
  it("takes the cursor line for a bare cursor, as the server's code actions do", () => {
    assert.deepEqual(taskRange(task("review"), range(7, 3, 7, 3), "    return x + 1"), range(7, 0, 7, 16));
    assert.deepEqual(taskRange(undefined, range(7, 3, 7, 3), "abc"), range(7, 0, 7, 3));
  });
  it("keeps the bare cursor for a task that inserts there (scaffold's row says so)", () => {
    assert.deepEqual(taskRange(task("scaffold"), range(7, 3, 7, 3), "abc"), range(7, 3, 7, 3));
  });
  it("handles an empty line", () => {
    assert.deepEqual(taskRange(task("explain"), range(0, 0, 0, 0), ""), range(0, 0, 0, 0));
  });
});

describe("overlaps and isEmptyRange", () => {
  it("counts touching boundaries", () => {
    assert.ok(overlaps(range(1, 0, 1, 5), range(1, 5, 2, 0)));
    assert.ok(overlaps(range(1, 5, 2, 0), range(1, 0, 1, 5)));
    assert.ok(!overlaps(range(1, 0, 1, 4), range(1, 5, 2, 0)));
    assert.ok(!overlaps(range(3, 0, 3, 1), range(1, 0, 2, 9)));
    assert.ok(overlaps(range(0, 0, 9, 0), range(4, 2, 4, 3)));
  });
  it("tells an empty range", () => {
    assert.ok(isEmptyRange(range(2, 2, 2, 2)));
    assert.ok(!isEmptyRange(range(2, 2, 2, 3)));
  });
});

describe("diagnosticsInRange", () => {
  const diagnostics = [
    { message: "undefined name 'x'", range: range(3, 4, 3, 5), source: "pyflakes" },
    { message: "line too long", range: range(10, 79, 10, 120), source: "" },
    { message: "unused import", range: range(0, 0, 0, 9) },
  ];
  it("keeps the problems in the selection as {message, line, source}", () => {
    assert.deepEqual(diagnosticsInRange(diagnostics, range(2, 0, 5, 0)), [
      { message: "undefined name 'x'", line: 3, source: "pyflakes" },
    ]);
  });
  it("leaves out an empty or missing source (the server takes it as optional)", () => {
    assert.deepEqual(diagnosticsInRange(diagnostics, range(0, 0, 10, 80)), [
      { message: "undefined name 'x'", line: 3, source: "pyflakes" },
      { message: "line too long", line: 10 },
      { message: "unused import", line: 0 },
    ]);
  });
  it("takes the whole cursor line for a bare cursor", () => {
    assert.deepEqual(diagnosticsInRange(diagnostics, range(10, 0, 10, 0)), [{ message: "line too long", line: 10 }]);
    assert.deepEqual(diagnosticsInRange(diagnostics, range(4, 0, 4, 0)), []);
  });
  it("returns nothing when there are none", () => {
    assert.deepEqual(diagnosticsInRange([], range(0, 0, 100, 0)), []);
  });
});

describe("buildTaskArgs", () => {
  it("sends only the keys the server knows", () => {
    const args = buildTaskArgs({ task: "review", uri: URI, range: range(9, 0, 40, 0) });
    assert.deepEqual(args, { task: "review", uri: URI, range: range(9, 0, 40, 0) });
    assert.deepEqual(Object.keys(args), ["task", "uri", "range"]);
  });
  it("adds a trimmed prompt and the diagnostics when there are some", () => {
    const args = buildTaskArgs({
      task: "fix",
      uri: URI,
      range: range(1, 0, 2, 0),
      prompt: "  keep the API  ",
      diagnostics: [{ message: "boom", line: 1 }],
    });
    assert.deepEqual(args, {
      task: "fix",
      uri: URI,
      range: range(1, 0, 2, 0),
      prompt: "keep the API",
      diagnostics: [{ message: "boom", line: 1 }],
    });
  });
  it("drops a blank prompt and an empty diagnostics list", () => {
    const args = buildTaskArgs({ task: "test", uri: URI, range: range(1, 0, 2, 0), prompt: "   ", diagnostics: [] });
    assert.deepEqual(Object.keys(args), ["task", "uri", "range"]);
  });
});

describe("buildRouteArgs", () => {
  it("routes a task", () => {
    assert.deepEqual(buildRouteArgs({ task: "refactor", uri: URI, range: range(0, 0, 3, 0) }), {
      task: "refactor",
      uri: URI,
      range: range(0, 0, 3, 0),
    });
  });
  it("routes a prompt for the server to classify, without a task key", () => {
    const args = buildRouteArgs({ uri: URI, range: range(0, 0, 3, 0), prompt: "why does this crash?" });
    assert.deepEqual(args, { uri: URI, range: range(0, 0, 3, 0), prompt: "why does this crash?" });
    assert.ok(!("task" in args));
  });
  it("refuses neither a task nor a prompt (the server would)", () => {
    assert.throws(() => buildRouteArgs({ uri: URI, range: range(0, 0, 0, 0), prompt: "  " }), /task or a prompt/);
  });
});

describe("buildAskArgs", () => {
  it("builds {uri, range, prompt} with diagnostics when there are some", () => {
    assert.deepEqual(
      buildAskArgs({ uri: URI, range: range(2, 0, 2, 0), prompt: " write tests ", diagnostics: [{ message: "m", line: 2 }] }),
      { uri: URI, range: range(2, 0, 2, 0), prompt: "write tests", diagnostics: [{ message: "m", line: 2 }] },
    );
    assert.deepEqual(buildAskArgs({ uri: URI, range: range(2, 0, 3, 0), prompt: "explain" }), {
      uri: URI,
      range: range(2, 0, 3, 0),
      prompt: "explain",
    });
  });
  it("keeps a bare cursor as it is (the classifier reads it as 'write code here')", () => {
    assert.deepEqual(buildAskArgs({ uri: URI, range: range(5, 4, 5, 4), prompt: "a parser" })?.range, range(5, 4, 5, 4));
  });
  it("returns undefined for a blank or missing prompt", () => {
    assert.equal(buildAskArgs({ uri: URI, range: range(0, 0, 1, 0), prompt: "" }), undefined);
    assert.equal(buildAskArgs({ uri: URI, range: range(0, 0, 1, 0), prompt: " \n " }), undefined);
    assert.equal(buildAskArgs({ uri: URI, range: range(0, 0, 1, 0), prompt: undefined }), undefined);
  });
});

describe("askRange", () => {
  const cursor = range(8, 4, 8, 4);
  const line = "def mean(items):";
  it("keeps a real selection whatever the request", () => {
    assert.deepEqual(askRange(range(1, 0, 5, 0), line, task("explain")), range(1, 0, 5, 0));
    assert.deepEqual(askRange(range(1, 0, 5, 0), line, task("scaffold")), range(1, 0, 5, 0));
  });
  it("takes the cursor line for a request about code there", () => {
    assert.deepEqual(askRange(cursor, line, task("explain")), range(8, 0, 8, 16));
    assert.deepEqual(askRange(cursor, line, task("review")), range(8, 0, 8, 16));
  });
  it("keeps the bare cursor for scaffold (write code here), on a blank line, and when unsure", () => {
    assert.deepEqual(askRange(cursor, line, task("scaffold")), cursor);
    assert.deepEqual(askRange(range(3, 0, 3, 0), "", task("explain")), range(3, 0, 3, 0));
    assert.deepEqual(askRange(range(3, 4, 3, 4), "    ", task("test")), range(3, 4, 3, 4));
    assert.deepEqual(askRange(cursor, line, undefined), cursor);
  });
});
