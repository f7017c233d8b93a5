// A task table in the format the server sends (`assistant.tasks`, and the
// initialize result's `capabilities.experimental.assistantRouter`). The
// extension has no table of its own, so its unit tests bring one; these rows
// are test data, not the server's list (test/server.test.ts reads the real
// server's table where the server is installed).
import { TaskTable } from "../src/logic/tasks";

export function row(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  const title = name.charAt(0).toUpperCase() + name.slice(1);
  return {
    name,
    title,
    verb: title,
    delivery: "document",
    placement: null,
    result: "a Markdown document",
    codeActionKind: `refactor.assistant.${name}`,
    needsDiagnostics: false,
    emptySelection: "line",
    ...fields,
  };
}

export const ROWS = [
  row("scaffold", {
    verb: "Scaffold code for",
    delivery: "edit",
    placement: "replace",
    result: "an edit replacing the selection, or inserted at the cursor",
    codeActionKind: "refactor.rewrite.assistant.scaffold",
    emptySelection: "cursor",
  }),
  row("test", { verb: "Write tests for", delivery: "edit", placement: "test_file", result: "tests next to the code" }),
  row("fix", { delivery: "edit", placement: "replace", result: "an edit replacing the selection", codeActionKind: "quickfix", needsDiagnostics: true }),
  row("refactor", { delivery: "edit", placement: "replace", result: "an edit replacing the selection" }),
  row("review", { delivery: "diagnostics", result: "diagnostics on the document" }),
  row("explain"),
];

export const TABLE = TaskTable.fromRows(ROWS)!;

/** The initialize result's capabilities, as a server sends them with this table. */
export function capabilities(rows: unknown[] = ROWS): Record<string, unknown> {
  return {
    executeCommandProvider: { commands: ["assistant.run", "assistant.tasks"] },
    experimental: { assistantRouter: { version: "0.1.0", tasks: rows } },
  };
}
