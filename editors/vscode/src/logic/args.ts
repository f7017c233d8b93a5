// The one argument of the server's workspace commands (assistant.run, .route,
// .preview, .ask), built from an editor selection. The server rejects unknown
// keys, so only the keys it knows are ever set, and optional ones only when
// they carry something.

import { type Task, type TaskRow, insertsAtCursor } from "./tasks";

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** What the server's `diagnostics` argument holds: `line` is 0-based. */
export interface DiagnosticArg {
  message: string;
  line: number;
  source?: string;
}

/** A diagnostic as the editor has it (vscode.Diagnostic is structurally one). */
export interface EditorDiagnostic {
  message: string;
  range: Range;
  source?: string;
}

export interface TaskArgs {
  task: Task;
  uri: string;
  range: Range;
  prompt?: string;
  diagnostics?: DiagnosticArg[];
}

export interface RouteArgs {
  task?: Task;
  uri: string;
  range: Range;
  prompt?: string;
  diagnostics?: DiagnosticArg[];
}

export interface AskArgs {
  uri: string;
  range: Range;
  prompt: string;
  diagnostics?: DiagnosticArg[];
}

function comparePositions(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}

function position(p: Position): Position {
  return { line: Math.max(0, Math.trunc(p.line)), character: Math.max(0, Math.trunc(p.character)) };
}

/** A plain JSON range, start before end (a selection made upwards is turned round). */
export function toRange(anchor: Position, active: Position): Range {
  const a = position(anchor);
  const b = position(active);
  return comparePositions(a, b) <= 0 ? { start: a, end: b } : { start: b, end: a };
}

export function isEmptyRange(range: Range): boolean {
  return comparePositions(range.start, range.end) === 0;
}

/** What the ranges below need to know about a task: its row in the server's table. */
export type TaskShape = Pick<TaskRow, "emptySelection">;

/**
 * The range a task works on, as the server's own code actions choose it: the
 * selection; with a bare cursor, the whole line under it, except for a task
 * whose row says a bare cursor means "insert here" (`emptySelection:
 * "cursor"`, scaffold's). `lineText` is the cursor line without its end of
 * line.
 */
export function taskRange(task: TaskShape | undefined, selection: Range, lineText: string): Range {
  if (!isEmptyRange(selection) || insertsAtCursor(task)) {
    return selection;
  }
  const line = selection.start.line;
  return { start: { line, character: 0 }, end: { line, character: lineText.length } };
}

/**
 * The range for `assistant.ask`. The server runs the task it classifies on
 * exactly this range, and reads an empty one as "write code here". So a bare
 * cursor stays bare on a blank line, when unsure, or when the request reads
 * as a task that inserts at the cursor (`likely`: the row of the server's
 * classification of the prompt, from assistant.route); on a line of code,
 * any other task takes that line, as the code actions do.
 */
export function askRange(selection: Range, lineText: string, likely: TaskShape | undefined): Range {
  if (!isEmptyRange(selection) || lineText.trim() === "" || likely === undefined || insertsAtCursor(likely)) {
    return selection;
  }
  return taskRange(likely, selection, lineText);
}

/** Whether a diagnostic's range touches the range (boundaries count, as in the editor's code-action context). */
export function overlaps(a: Range, b: Range): boolean {
  return comparePositions(a.start, b.end) <= 0 && comparePositions(b.start, a.end) <= 0;
}

/**
 * The problems in the range, as the server wants them: what its code actions
 * pass too. With a bare cursor, the problems on the cursor line.
 */
export function diagnosticsInRange(diagnostics: readonly EditorDiagnostic[], range: Range): DiagnosticArg[] {
  const target = isEmptyRange(range)
    ? { start: { line: range.start.line, character: 0 }, end: { line: range.start.line, character: Number.MAX_SAFE_INTEGER } }
    : range;
  return diagnostics
    .filter((d) => overlaps(d.range, target))
    .map((d) => {
      const arg: DiagnosticArg = { message: d.message, line: d.range.start.line };
      if (d.source) {
        arg.source = d.source;
      }
      return arg;
    });
}

function cleanPrompt(prompt: string | undefined): string | undefined {
  const text = prompt?.trim();
  return text ? text : undefined;
}

function withOptional<T extends { prompt?: string; diagnostics?: DiagnosticArg[] }>(
  args: T,
  prompt: string | undefined,
  diagnostics: readonly DiagnosticArg[] | undefined,
): T {
  const text = cleanPrompt(prompt);
  if (text !== undefined) {
    args.prompt = text;
  }
  if (diagnostics && diagnostics.length > 0) {
    args.diagnostics = [...diagnostics];
  }
  return args;
}

/** `assistant.run` / `assistant.preview`. */
export function buildTaskArgs(input: {
  task: Task;
  uri: string;
  range: Range;
  prompt?: string;
  diagnostics?: readonly DiagnosticArg[];
}): TaskArgs {
  return withOptional<TaskArgs>({ task: input.task, uri: input.uri, range: input.range }, input.prompt, input.diagnostics);
}

/**
 * `assistant.route`: a task, or (without one) a prompt for the server to
 * classify. Diagnostics are not sent: they do not change the route.
 */
export function buildRouteArgs(input: { task?: Task; uri: string; range: Range; prompt?: string }): RouteArgs {
  const args = withOptional<RouteArgs>({ uri: input.uri, range: input.range }, input.prompt, undefined);
  if (input.task !== undefined) {
    return { task: input.task, ...args };
  }
  if (args.prompt === undefined) {
    throw new Error("assistant.route needs a task or a prompt");
  }
  return args;
}

/** `assistant.ask`; undefined when the prompt is blank (nothing to ask). */
export function buildAskArgs(input: {
  uri: string;
  range: Range;
  prompt: string | undefined;
  diagnostics?: readonly DiagnosticArg[];
}): AskArgs | undefined {
  const prompt = cleanPrompt(input.prompt);
  if (prompt === undefined) {
    return undefined;
  }
  return withOptional<AskArgs>({ uri: input.uri, range: input.range, prompt }, prompt, input.diagnostics);
}
