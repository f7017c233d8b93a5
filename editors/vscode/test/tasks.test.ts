import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { taskRange } from "../src/logic/args";
import { formatRoute } from "../src/logic/messages";
import { parseStatus, statusBarView } from "../src/logic/status";
import { TaskTable, insertsAtCursor, taskPicks, taskTitle } from "../src/logic/tasks";
import { ROWS, TABLE, capabilities, row } from "./fixtures";

describe("TaskTable", () => {
  it("reads the rows of the initialize result, in the server's order", () => {
    const table = TaskTable.fromCapabilities(capabilities());
    assert.ok(table);
    assert.deepEqual(table.names, ["scaffold", "test", "fix", "refactor", "review", "explain"]);
    assert.deepEqual(table.rows, ROWS);
  });
  it("reads the answer to assistant.tasks", () => {
    const table = TaskTable.fromCommandResult({ tasks: ROWS });
    assert.deepEqual(table?.rows, TaskTable.fromCapabilities(capabilities())?.rows);
  });
  it("is whatever the server sends: no task is built in", () => {
    const table = TaskTable.fromCapabilities(capabilities([row("summarise", { title: "Summary", result: "a summary" })]));
    assert.deepEqual(table?.names, ["summarise"]);
    assert.ok(table?.has("summarise"));
    assert.ok(!table?.has("review"));
    assert.equal(taskTitle(table, "summarise"), "Summary");
  });
  it("is undefined when the server sent none", () => {
    for (const caps of [undefined, null, {}, { experimental: null }, { experimental: { other: {} } }, capabilities([])]) {
      assert.equal(TaskTable.fromCapabilities(caps), undefined, JSON.stringify(caps));
    }
    for (const result of [undefined, null, [], { tasks: null }, { tasks: "review" }, { tasks: [{ title: "No name" }] }]) {
      assert.equal(TaskTable.fromCommandResult(result), undefined, JSON.stringify(result));
    }
  });
  it("leaves out rows without a name and repeated names", () => {
    const table = TaskTable.fromRows([row("review"), { name: "" }, 3, null, { title: "x" }, row("review", { title: "Again" })]);
    assert.deepEqual(table?.names, ["review"]);
    assert.equal(table?.get("review")?.title, "Review");
  });
  it("fills in what a row leaves out from what it has, and keeps values it does not know", () => {
    const table = TaskTable.fromRows([{ name: "sketch", delivery: "canvas", emptySelection: "cursor" }]);
    assert.deepEqual(table?.get("sketch"), {
      name: "sketch",
      title: "sketch",
      verb: "sketch",
      delivery: "canvas",
      placement: null,
      result: "",
      codeActionKind: "",
      needsDiagnostics: false,
      emptySelection: "cursor",
    });
  });
  it("finds tasks by exact name only", () => {
    assert.ok(TABLE.has("review"));
    assert.ok(!TABLE.has("Review"));
    assert.ok(!TABLE.has(undefined));
    assert.ok(!TABLE.has("toString"));
    assert.equal(TABLE.get("constructor"), undefined);
  });
});

describe("offered and unknown", () => {
  it("offers every task when the setting names none", () => {
    assert.deepEqual(TABLE.offered(undefined).map((r) => r.name), TABLE.names);
    assert.deepEqual(TABLE.offered([]).map((r) => r.name), TABLE.names);
  });
  it("keeps the setting's order and leaves out what the server does not have", () => {
    assert.deepEqual(TABLE.offered(["review", "summarise", "fix", "review"]).map((r) => r.name), ["review", "fix"]);
    assert.deepEqual(TABLE.unknown(["review", "summarise", "Fix"]), ["summarise", "Fix"]);
    assert.deepEqual(TABLE.unknown(undefined), []);
  });
});

describe("taskPicks", () => {
  it("lists the offered tasks by title, with what each delivers", () => {
    assert.deepEqual(taskPicks(TABLE, ["review", "scaffold"]), [
      { label: "Review", description: "diagnostics on the document", task: "review" },
      { label: "Scaffold", description: "an edit replacing the selection, or inserted at the cursor", task: "scaffold" },
    ]);
  });
  it("puts the last task used first", () => {
    const picks = taskPicks(TABLE, undefined, "explain");
    assert.deepEqual(picks.map((p) => p.task), ["explain", "scaffold", "test", "fix", "refactor", "review"]);
    assert.equal(picks[0]?.description, "a Markdown document · last used");
  });
  it("ignores a last task that is not offered", () => {
    assert.deepEqual(taskPicks(TABLE, ["fix"], "explain").map((p) => p.task), ["fix"]);
  });
  it("shows a task only a newer server has", () => {
    const table = TaskTable.fromRows([...ROWS, row("summarise", { title: "Summarise", result: "a summary in a document" })])!;
    assert.deepEqual(taskPicks(table, undefined).at(-1), { label: "Summarise", description: "a summary in a document", task: "summarise" });
  });
});

describe("the table decides, not the task's name", () => {
  const cursor = { start: { line: 7, character: 3 }, end: { line: 7, character: 3 } };
  it("inserts at a bare cursor for any task whose row says so", () => {
    const table = TaskTable.fromRows([row("sketch", { emptySelection: "cursor" }), row("scaffold", { emptySelection: "line" })])!;
    assert.ok(insertsAtCursor(table.get("sketch")));
    assert.deepEqual(taskRange(table.get("sketch"), cursor, "abc"), cursor);
    assert.deepEqual(taskRange(table.get("scaffold"), cursor, "abc"), { start: { line: 7, character: 0 }, end: { line: 7, character: 3 } });
  });
  it("titles a task as the server does", () => {
    const table = TaskTable.fromRows([row("review", { title: "Code review" })])!;
    assert.match(formatRoute({ task: "review", alias: "opus" }, undefined, table), /^Code review → opus\./);
    assert.match(statusBarView(parseStatus({ task: "review", status: "shown" })!, table).tooltip, /^\*\*Code review\*\*/);
  });
  it("shows a name the table does not have as it is", () => {
    assert.equal(taskTitle(TABLE, "summarise"), "summarise");
    assert.equal(taskTitle(undefined, "review"), "review");
    assert.match(formatRoute({ task: "summarise", alias: "opus" }, undefined, TABLE), /^summarise → opus\./);
  });
});
