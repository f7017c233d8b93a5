// Identifiers shared by the extension code and its package.json manifest
// (a unit test checks that the two agree).

/** The extension's own commands (contributed to the palette). */
export const COMMANDS = {
  ask: "assistantRouter.ask",
  showRoute: "assistantRouter.showRoute",
  preview: "assistantRouter.preview",
  restartServer: "assistantRouter.restartServer",
  openLog: "assistantRouter.openLog",
} as const;

/** Internal: the status bar's click when the server is missing. */
export const OPEN_SETTINGS_COMMAND = "assistantRouter.openSettings";

/** The server's workspace commands (its executeCommandProvider). */
export const SERVER_COMMANDS = {
  run: "assistant.run",
  route: "assistant.route",
  preview: "assistant.preview",
  ask: "assistant.ask",
  /** The task table (also in the initialize result's `capabilities.experimental.assistantRouter`). */
  tasks: "assistant.tasks",
} as const;

/**
 * The languages the server is started for (their files are synced to it and
 * get its code actions): the programming languages its CLI knows by file
 * suffix. Each has an `onLanguage` activation event.
 */
export const LANGUAGES = [
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "go",
  "rust",
  "java",
  "kotlin",
  "c",
  "cpp",
  "csharp",
  "ruby",
  "php",
  "swift",
  "lua",
  "shellscript",
  "scala",
  "elixir",
  "haskell",
  "sql",
] as const;

/** The project policy file, which the server checks as it is typed. */
export const POLICY_FILE_PATTERN = "**/.assistant-router.toml";

export interface DocumentFilter {
  scheme: string;
  language?: string;
  pattern?: string;
}

/** Files on disk of those languages, and the policy file whatever its language id. */
export function documentSelector(): DocumentFilter[] {
  return [
    ...LANGUAGES.map((language) => ({ scheme: "file", language })),
    { scheme: "file", pattern: POLICY_FILE_PATTERN },
  ];
}
