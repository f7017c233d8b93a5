// The server's task table, as the server sends it: in its initialize result
// (`capabilities.experimental.assistantRouter.tasks`) and as the answer to
// its `assistant.tasks` command. The extension keeps no list of tasks of its
// own: every task name, title and delivery it shows comes from here.
// Pure: no `vscode` import, so the unit tests run under plain Node.

import { str } from "./format";

/** The key of the server's entry in `ServerCapabilities.experimental`. */
export const EXPERIMENTAL_KEY = "assistantRouter";

/** A task's name, as the server spells it (`review`). */
export type Task = string;

/** One row of the server's table. */
export interface TaskRow {
  name: Task;
  /** `Review`: the task as a title word. */
  title: string;
  /** `Write tests for`: the start of the server's code-action titles. */
  verb: string;
  /** `edit`, `diagnostics` or `document` (a newer server may add kinds). */
  delivery: string;
  /** Where an edit goes (`replace`, `insert_after`, `test_file`); null for other deliveries. */
  placement: string | null;
  /** What the user gets, in words a menu can show: `diagnostics on the document`. */
  result: string;
  codeActionKind: string;
  /** Offered only where the editor reports problems. */
  needsDiagnostics: boolean;
  /** What a bare cursor means: `line` (the cursor's line) or `cursor` (insert there). */
  emptySelection: string;
}

function record(raw: unknown): Record<string, unknown> | undefined {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}

/** A row as sent, or undefined when it has no name. Missing words fall back to the ones it has. */
function parseRow(raw: unknown): TaskRow | undefined {
  const r = record(raw);
  const name = r && str(r.name);
  if (r === undefined || name === undefined) {
    return undefined;
  }
  const title = str(r.title) ?? name;
  return {
    name,
    title,
    verb: str(r.verb) ?? title,
    delivery: str(r.delivery) ?? "",
    placement: str(r.placement) ?? null,
    result: str(r.result) ?? "",
    codeActionKind: str(r.codeActionKind) ?? "",
    needsDiagnostics: r.needsDiagnostics === true,
    emptySelection: str(r.emptySelection) ?? "line",
  };
}

/** The server's tasks, in its order. */
export class TaskTable {
  private readonly byName: ReadonlyMap<Task, TaskRow>;

  private constructor(readonly rows: readonly TaskRow[]) {
    this.byName = new Map(rows.map((row) => [row.name, row]));
  }

  /** From a list of rows; undefined when there is no usable row (rows without a name, and repeats, are left out). */
  static fromRows(raw: unknown): TaskTable | undefined {
    if (!Array.isArray(raw)) {
      return undefined;
    }
    const rows: TaskRow[] = [];
    for (const item of raw as unknown[]) {
      const row = parseRow(item);
      if (row !== undefined && !rows.some((r) => r.name === row.name)) {
        rows.push(row);
      }
    }
    return rows.length > 0 ? new TaskTable(rows) : undefined;
  }

  /** From the answer to `assistant.tasks`: `{"tasks": [...]}`. */
  static fromCommandResult(raw: unknown): TaskTable | undefined {
    return TaskTable.fromRows(record(raw)?.tasks);
  }

  /** From the initialize result's `capabilities` (`experimental.assistantRouter.tasks`). */
  static fromCapabilities(capabilities: unknown): TaskTable | undefined {
    const ours = record(record(record(capabilities)?.experimental)?.[EXPERIMENTAL_KEY]);
    return TaskTable.fromRows(ours?.tasks);
  }

  get names(): Task[] {
    return this.rows.map((row) => row.name);
  }

  has(name: unknown): name is Task {
    return typeof name === "string" && this.byName.has(name);
  }

  get(name: unknown): TaskRow | undefined {
    return typeof name === "string" ? this.byName.get(name) : undefined;
  }

  /**
   * The tasks the code-action menu offers: those named in the setting (its
   * order, names the server does not have left out), or every task when the
   * setting names none.
   */
  offered(setting: readonly string[] | undefined): TaskRow[] {
    if (setting === undefined || setting.length === 0) {
      return [...this.rows];
    }
    const rows: TaskRow[] = [];
    for (const name of setting) {
      const row = this.byName.get(name);
      if (row !== undefined && !rows.includes(row)) {
        rows.push(row);
      }
    }
    return rows;
  }

  /** The names in the setting that the server does not have. */
  unknown(setting: readonly string[] | undefined): string[] {
    return (setting ?? []).filter((name) => !this.byName.has(name));
  }
}

/** `Review`: the server's title for the task; the name itself when the table does not have it. */
export function taskTitle(table: TaskTable | undefined, name: string): string {
  return table?.get(name)?.title ?? name;
}

/** Whether a bare cursor means "insert here" for the task (rather than the cursor's line). */
export function insertsAtCursor(row: Pick<TaskRow, "emptySelection"> | undefined): boolean {
  return row?.emptySelection === "cursor";
}

export interface TaskPick {
  label: string;
  description: string;
  task: Task;
}

/**
 * The quick pick of tasks: the offered ones with their titles and what they
 * deliver, the last one used first.
 */
export function taskPicks(table: TaskTable, setting: readonly string[] | undefined, lastTask?: Task): TaskPick[] {
  const rows = table.offered(setting);
  const last = rows.findIndex((row) => row.name === lastTask);
  if (last > 0) {
    rows.unshift(...rows.splice(last, 1));
  }
  return rows.map((row) => ({
    label: row.title,
    description: [row.result, row.name === lastTask ? "last used" : ""].filter(Boolean).join(" · "),
    task: row.name,
  }));
}
