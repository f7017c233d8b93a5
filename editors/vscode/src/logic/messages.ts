// Notifications for the results of the server's commands: the route
// (assistant.route), a run (assistant.ask / assistant.run) and a preview
// that could not be opened. Pure, for the unit tests.

import { formatCount, formatElapsed, modelLabel, num, str } from "./format";
import { type TaskTable, taskTitle } from "./tasks";

export type Level = "info" | "warning" | "error";

export interface Notice {
  level: Level;
  text: string;
  /**
   * Whether to show it as a notification. A failure was already shown by the
   * server itself, and a cancel was the user's doing: those go to the log only.
   */
  notify: boolean;
}

function record(raw: unknown): Record<string, unknown> {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}

interface ModelRef {
  alias?: string;
  provider?: string;
  model?: string;
}

function modelRef(raw: unknown): ModelRef {
  const r = record(raw);
  return { alias: str(r.alias), provider: str(r.provider), model: str(r.model) };
}

/** Without a final full stop, so one can be added after it. */
function clause(text: string): string {
  return text.trim().replace(/[.]+$/, "");
}

function label(m: ModelRef): string {
  return modelLabel(m.alias, m.provider, m.model);
}

/** `“make it faster” reads as refactor (confidence 0.82)`, from a `classification`. */
export function formatClassification(raw: unknown, prompt?: string): string | undefined {
  const c = record(raw);
  const task = str(c.task);
  if (task === undefined) {
    return undefined;
  }
  const confidence = num(c.confidence);
  const subject = prompt ? `“${prompt}”` : "The request";
  const by = str(c.chosen_by) === "user" ? "you chose" : "reads as";
  const sure = confidence !== undefined && by === "reads as" ? ` (confidence ${confidence.toFixed(2)})` : "";
  return `${subject} ${by} ${task}${sure}`;
}

/**
 * The route notification: `Review → opus (anthropic claude-opus-4-6), then
 * codex (openai gpt-5.3-codex). Reason: built-in default route: …`. Tasks go
 * by their titles in the server's `tasks`.
 */
export function formatRoute(raw: unknown, prompt?: string, tasks?: TaskTable): string {
  const r = record(raw);
  const task = str(r.task) ?? "?";
  const primary = modelRef(r);
  const chain = Array.isArray(r.chain) ? r.chain.map(modelRef) : [];
  const fallbacks = chain.slice(1).filter((m) => m.alias !== undefined || m.model !== undefined);
  let text = `${taskTitle(tasks, task)} → ${label(primary)}`;
  if (fallbacks.length > 0) {
    text += `, then ${fallbacks.map(label).join(", then ")}`;
  }
  text += ".";
  const reason = str(r.reason);
  if (reason !== undefined) {
    text += ` Reason: ${clause(reason)}.`;
  }
  const classification = formatClassification(r.classification, prompt);
  if (classification !== undefined) {
    text = `${classification}. ${text}`;
  }
  return text;
}

/** After assistant.ask / assistant.run: what happened, with the model, as one notification. */
export function formatRunResult(raw: unknown, prompt?: string, tasks?: TaskTable): Notice {
  const r = record(raw);
  const status = str(r.status) ?? "unknown";
  const task = str(r.task);
  const rawMessage = str(r.message);
  const message = rawMessage === undefined ? undefined : clause(rawMessage);
  const classification = formatClassification(r.classification, prompt);
  const prefix = classification ? `${classification}. ` : "";

  if (task === undefined) {
    // assistant.ask when the user dismissed the choice of task: nothing ran.
    const why = message ? `: ${message}` : "";
    return { level: status === "failed" ? "error" : "info", text: `${prefix}Nothing was done${why}.`, notify: false };
  }

  const who = label(modelRef(r));
  const elapsed = num(r.elapsed_ms);
  const details: string[] = [];
  if (elapsed !== undefined) {
    details.push(formatElapsed(elapsed));
  }
  const usage = record(r.usage);
  const output = num(usage.output_tokens);
  if (output !== undefined && status !== "failed") {
    details.push(`${formatCount(output)} token${output === 1 ? "" : "s"}`);
  }
  if (r.fallback === true) {
    details.push("after a fallback");
  }
  if (r.escalated === true) {
    details.push("escalated: the first answer failed its checks");
  }
  const tail = details.length ? ` (${details.join(", ")})` : "";
  const title = taskTitle(tasks, task);

  switch (status) {
    case "applied":
      return { level: "info", text: `${prefix}${title} by ${who}: edit applied${tail}.`, notify: true };
    case "shown": {
      const findings = num(r.diagnostics);
      const what =
        findings !== undefined ? `${formatCount(findings)} finding${findings === 1 ? "" : "s"} shown` : "result shown";
      return { level: "info", text: `${prefix}${title} by ${who}: ${what}${tail}.`, notify: true };
    }
    case "held":
      // The edit failed its checks (syntax, safety rules): its problems are diagnostics, with
      // an "Apply unchecked answer" code action; the server's message (already shown) says so.
      return { level: "warning", text: `${prefix}${title} by ${who}: ${message ?? "not applied"}.`, notify: false };
    case "cancelled":
      return { level: "info", text: `${prefix}${title} cancelled${message ? `: ${message}` : ""}.`, notify: false };
    case "refused":
      // Nothing was sent (an excluded file, a budget, a selection too large): the server says why.
      return { level: "warning", text: `${prefix}${title} not sent${message ? `: ${message}` : ""}.`, notify: false };
    case "failed":
      return {
        level: "error",
        text: `${prefix}${title} failed with ${who}${message ? `: ${message}` : ""}${tail}.`,
        notify: false,
      };
    default:
      return {
        level: "warning",
        text: `${prefix}${title} ended with status "${status}"${message ? `: ${message}` : ""}.`,
        notify: true,
      };
  }
}

/**
 * After assistant.preview: undefined when the server opened the preview
 * document itself (nothing to add), else what to say.
 */
export function formatPreviewResult(raw: unknown): Notice | undefined {
  const r = record(raw);
  const status = str(r.status);
  if (status === "refused") {
    return {
      level: "warning",
      text: `Preview refused: ${clause(str(r.message) ?? "the server would not send this request")}.`,
      notify: true,
    };
  }
  if (str(r.document) !== undefined) {
    return undefined;
  }
  const tokens = num(r.input_tokens);
  const task = str(r.task) ?? "?";
  return {
    level: "info",
    text:
      `Preview of ${task} for ${label(modelRef(r))}` +
      (tokens !== undefined ? `: about ${formatCount(tokens)} input tokens` : "") +
      ". Nothing was sent.",
    notify: true,
  };
}
