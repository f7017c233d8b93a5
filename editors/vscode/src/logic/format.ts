// Small formatting helpers shared by the status bar and the notifications.

/** 1834 → "1,834" (fixed, not the locale's: the same in every test and UI). */
export function formatCount(n: number): string {
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** 412 → "412 ms", 2630 → "2.6 s", 65000 → "1 min 5 s". */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return "?";
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    const seconds = ms / 1000;
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds).toString()} s`;
  }
  const total = Math.round(ms / 1000);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/**
 * Escapes text for the middle of a Markdown line (a tooltip), so a server
 * message shows as written: emphasis, code, links, HTML and tables are off.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|~]/g, "\\$&").replace(/\r?\n/g, " ");
}

/** Text from a JSON field the server may have left null or out. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/**
 * `opus (anthropic claude-opus-4-6)`; the parts that are known. The server
 * names a mock alias's model "mock": `opus (mock)`, not `opus (mock mock)`.
 */
export function modelLabel(alias: string | undefined, provider: string | undefined, model: string | undefined): string {
  const detail = (model === provider ? [provider] : [provider, model]).filter(Boolean).join(" ");
  if (alias && detail) {
    return `${alias} (${detail})`;
  }
  return alias ?? (detail || "an unknown model");
}
