// Inline completion (LSP 3.18 `textDocument/inlineCompletion`): whether the
// extension declares it, and the status bar item that names the model the
// completions go to. Pure, for the unit tests.
//
// vscode-languageclient 9 has the feature as a *proposed* one: the extension
// calls `client.registerProposedFeatures()` (in 9.0.1 that is the inline
// completion feature alone) before `start()` when the setting is on. The
// server advertises `inlineCompletionProvider` only to a client that declares
// the capability, so with the setting off nothing is asked for or shown.

import { OPEN_SETTINGS_COMMAND } from "./contributions";
import { escapeMarkdown, modelLabel, str } from "./format";
import { type Built, SECTION } from "./settings";
import { type StatusBarView } from "./status";

/** The server's task for inline completion (routed like the others: `[routes] complete = "alias"`). */
export const COMPLETE_TASK = "complete";
/** The setting, under SECTION. */
export const INLINE_SETTING = "inlineCompletion.enabled";
export const INLINE_DEFAULT = true;
/** What the client runs when the user accepts an item (the server records it). */
export const ACCEPTED_COMMAND = "assistant.inlineCompletionAccepted";

/** The setting as read: a boolean, else the default (with a warning). */
export function inlineCompletionEnabled(raw: unknown): Built<boolean> {
  if (typeof raw === "boolean") {
    return { value: raw, warnings: [] };
  }
  if (raw === undefined || raw === null) {
    return { value: INLINE_DEFAULT, warnings: [] };
  }
  return { value: INLINE_DEFAULT, warnings: [`${SECTION}.${INLINE_SETTING}: expected true or false; using ${INLINE_DEFAULT}`] };
}

/** Whether the server's initialize result offers inline completions. */
export function serverOffersInlineCompletion(capabilities: unknown): boolean {
  if (typeof capabilities !== "object" || capabilities === null) {
    return false;
  }
  const provider = (capabilities as Record<string, unknown>).inlineCompletionProvider;
  return provider === true || (typeof provider === "object" && provider !== null);
}

export interface Position {
  line: number;
  character: number;
}

/** `assistant.route` arguments for the completions at `position` of `uri` (no model is called). */
export function completionRouteArgs(uri: string, position: Position): { task: string; uri: string; range: { start: Position; end: Position } } {
  const at = { line: position.line, character: position.character };
  return { task: COMPLETE_TASK, uri, range: { start: at, end: { ...at } } };
}

interface ModelRef {
  alias?: string;
  provider?: string;
  model?: string;
}

function modelRef(raw: unknown): ModelRef {
  const r = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
  return { alias: str(r.alias), provider: str(r.provider), model: str(r.model) };
}

/**
 * The completion status bar item from `assistant.route`'s answer for the
 * `complete` task: `$(zap) codex-mini`, with the chain and the reason in the
 * tooltip; a click opens the setting. Undefined when the answer is not a
 * route of that task (an older server, an error).
 */
export function completionStatusView(route: unknown): StatusBarView | undefined {
  if (typeof route !== "object" || route === null) {
    return undefined;
  }
  const r = route as Record<string, unknown>;
  if (str(r.task) !== COMPLETE_TASK) {
    return undefined;
  }
  const primary = modelRef(r);
  const name = primary.alias ?? primary.model;
  if (name === undefined) {
    return undefined;
  }
  const chain = Array.isArray(r.chain) ? r.chain.map(modelRef) : [];
  const fallbacks = chain.slice(1).filter((m) => m.alias !== undefined || m.model !== undefined);
  const label = (m: ModelRef) => escapeMarkdown(modelLabel(m.alias, m.provider, m.model));
  const lines = [`**Inline completions** · ${label(primary)}`];
  if (fallbacks.length > 0) {
    lines.push(`Then: ${fallbacks.map(label).join(", then ")}`);
  }
  const reason = str(r.reason);
  if (reason !== undefined) {
    lines.push(`Reason: ${escapeMarkdown(reason)}`);
  }
  lines.push(`_Click to open the setting ${SECTION}.${INLINE_SETTING}_`);
  return {
    text: `$(zap) ${name}`,
    tooltip: lines.join("  \n"),
    severity: "normal",
    click: { command: OPEN_SETTINGS_COMMAND, args: [`${SECTION}.${INLINE_SETTING}`] },
  };
}
