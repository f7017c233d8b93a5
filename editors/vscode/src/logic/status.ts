// The status bar item: from the server's `assistant/status` notification to
// its text, tooltip (Markdown) and colour. Pure, for the unit tests.

import { COMMANDS, OPEN_SETTINGS_COMMAND } from "./contributions";
import { escapeMarkdown, formatCount, formatElapsed, modelLabel, num, str } from "./format";
import { type TaskTable, taskTitle } from "./tasks";

export const STATUS_NOTIFICATION = "assistant/status";

export type Outcome = "applied" | "shown" | "held" | "refused" | "cancelled" | "failed";

/** `assistant/status` params, checked: the server sends null for what it does not know. */
export interface StatusPayload {
  task: string;
  alias?: string;
  provider?: string;
  model?: string;
  status: string;
  fallback: boolean;
  inputTokens?: number;
  outputTokens?: number;
  elapsedMs?: number;
  message?: string;
}

export type Severity = "normal" | "warning" | "error";

export interface StatusBarView {
  text: string;
  /** Markdown. */
  tooltip: string;
  severity: Severity;
  /** What a click runs: one of the extension's commands, with its arguments. */
  click: { command: string; args: unknown[] };
}

const SHOW_ROUTE_COMMAND = COMMANDS.showRoute;
const RESTART_COMMAND = COMMANDS.restartServer;

/** The notification's params, or undefined when they are not a status at all. */
export function parseStatus(raw: unknown): StatusPayload | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const task = str(r.task);
  const status = str(r.status);
  if (task === undefined || status === undefined) {
    return undefined;
  }
  const usage = typeof r.usage === "object" && r.usage !== null ? (r.usage as Record<string, unknown>) : {};
  return {
    task,
    alias: str(r.alias),
    provider: str(r.provider),
    model: str(r.model),
    status,
    fallback: r.fallback === true,
    inputTokens: num(usage.input_tokens),
    outputTokens: num(usage.output_tokens),
    elapsedMs: num(r.elapsed_ms),
    message: str(r.message),
  };
}

const ICONS: Record<string, string> = {
  applied: "$(check)",
  shown: "$(eye)",
  cancelled: "$(circle-slash)",
  refused: "$(circle-slash)",
  held: "$(shield)",
  failed: "$(error)",
};

const OUTCOME_WORDS: Record<string, string> = {
  applied: "edit applied",
  shown: "result shown",
  cancelled: "cancelled",
  refused: "refused: nothing was sent",
  held: "not applied: the edit failed its checks",
  failed: "failed",
};

/**
 * The status bar after a task: `$(check) claude-opus-4-6 · applied`, and a
 * tooltip with the details (the task by its title in the server's `tasks`).
 */
export function statusBarView(s: StatusPayload, tasks?: TaskTable): StatusBarView {
  const icon = ICONS[s.status] ?? "$(info)";
  const who = s.model ?? s.alias ?? "assistant-router";
  const text = `${icon} ${who} · ${s.status}${s.fallback ? " (fallback)" : ""}`;

  const lines: string[] = [];
  lines.push(
    `**${escapeMarkdown(taskTitle(tasks, s.task))}** · ${escapeMarkdown(modelLabel(s.alias, s.provider, s.model))}: ` +
      escapeMarkdown(OUTCOME_WORDS[s.status] ?? s.status),
  );
  if (s.fallback) {
    lines.push("Fallback: yes, the route's first model failed and this one took over");
  }
  if (s.inputTokens !== undefined || s.outputTokens !== undefined) {
    const tokens = [
      s.inputTokens !== undefined ? `${formatCount(s.inputTokens)} in` : undefined,
      s.outputTokens !== undefined ? `${formatCount(s.outputTokens)} out` : undefined,
    ].filter(Boolean);
    lines.push(`Tokens: ${tokens.join(" · ")}`);
  }
  if (s.elapsedMs !== undefined) {
    lines.push(`Elapsed: ${formatElapsed(s.elapsedMs)}`);
  }
  if (s.message !== undefined) {
    lines.push(`Message: ${escapeMarkdown(s.message)}`);
  }
  lines.push(`_Click to show the route for ${escapeMarkdown(s.task)}_`);

  const severity: Severity =
    s.status === "failed" ? "error" : s.status === "refused" || s.status === "held" || s.fallback ? "warning" : "normal";
  return { text, tooltip: lines.join("  \n"), severity, click: { command: SHOW_ROUTE_COMMAND, args: [{ task: s.task }] } };
}

export type ServerState = "starting" | "running" | "stopped" | "notFound";

/** The status bar before any task has run, or when the server is not running. */
export function idleStatusBarView(state: ServerState): StatusBarView {
  switch (state) {
    case "starting":
      return {
        text: "$(sync~spin) assistant-router",
        tooltip: "**assistant-router**: starting the language server…",
        severity: "normal",
        click: { command: SHOW_ROUTE_COMMAND, args: [] },
      };
    case "running":
      return {
        text: "$(sparkle) assistant-router",
        tooltip:
          "**assistant-router**: ready. Select code and open the code-action menu (Ctrl+.)  \n" +
          "_Click to show the route for the selection_",
        severity: "normal",
        click: { command: SHOW_ROUTE_COMMAND, args: [] },
      };
    case "stopped":
      return {
        text: "$(debug-disconnect) assistant-router",
        tooltip: "**assistant-router**: the language server is not running (details in **assistant-router: Open log**)  \n_Click to restart it_",
        severity: "warning",
        click: { command: RESTART_COMMAND, args: [] },
      };
    case "notFound":
      return {
        text: "$(error) assistant-router",
        tooltip: "**assistant-router**: the language server command was not found  \n_Click to open the settings_",
        severity: "error",
        click: { command: OPEN_SETTINGS_COMMAND, args: [] },
      };
  }
}
