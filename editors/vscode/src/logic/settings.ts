// From the extension's settings to what starts the server: the executable,
// its arguments and environment, and the initializationOptions. Pure (Node's
// `path` only), so every case is unit-tested without VS Code.

import * as path from "node:path";

export const SECTION = "assistantRouter";
export const DEFAULT_COMMAND = "assistant-router";
export const DEFAULT_ARGS: readonly string[] = ["serve"];
// From the user's clone of the repository: no package of this name is published on a registry.
export const INSTALL_COMMAND = "pipx install /path/to/assistant-router";

/** The settings as read from the configuration (`unknown`: users can write anything in settings.json). */
export interface RawSettings {
  command?: unknown;
  args?: unknown;
  env?: unknown;
  tasks?: unknown;
  statusBar?: unknown;
}

export interface InitializationOptions {
  /** The task names to offer, as the user wrote them; left out for every task the server has. */
  tasks?: string[];
  status_notifications: boolean;
}

export interface Built<T> {
  value: T;
  /** Problems with the settings, for the log (and a warning): the defaults were used instead. */
  warnings: string[];
}

/**
 * `initializationOptions` for the server. The task names go as written: the
 * extension has no list of tasks to check them against, and the server
 * ignores a name it does not have (saying so in a warning) and applies the
 * rest. What is not a name at all is dropped here, with a warning.
 */
export function buildInitializationOptions(settings: Pick<RawSettings, "tasks" | "statusBar">): Built<InitializationOptions> {
  const warnings: string[] = [];
  const tasks: string[] = [];
  if (Array.isArray(settings.tasks)) {
    for (const item of settings.tasks as unknown[]) {
      const name = typeof item === "string" ? item.trim() : "";
      if (name === "") {
        warnings.push(`${SECTION}.tasks: ignored ${JSON.stringify(item)}, not a task name`);
      } else if (!tasks.includes(name)) {
        tasks.push(name);
      }
    }
  } else if (settings.tasks !== undefined && settings.tasks !== null) {
    warnings.push(`${SECTION}.tasks: expected a list of task names; offering every task`);
  }
  let statusNotifications = true;
  if (typeof settings.statusBar === "boolean") {
    statusNotifications = settings.statusBar;
  } else if (settings.statusBar !== undefined && settings.statusBar !== null) {
    warnings.push(`${SECTION}.statusBar: expected true or false; using true`);
  }
  const value: InitializationOptions =
    tasks.length > 0 ? { tasks, status_notifications: statusNotifications } : { status_notifications: statusNotifications };
  return { value, warnings };
}

export interface Variables {
  /** The user's home directory. */
  home: string;
  /** The first workspace folder's path, if a folder is open. */
  workspaceFolder?: string;
  /** For `${env:NAME}`. */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Expands `~` (at the start), `${userHome}`, `${workspaceFolder}` and
 * `${env:NAME}` as VS Code's own settings do. Unknown variables, and
 * `${workspaceFolder}` with no folder open, are left as written.
 */
export function expandVariables(value: string, vars: Variables): string {
  let out = value;
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = vars.home + out.slice(1);
  }
  return out.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === "userHome") {
      return vars.home;
    }
    if (name === "workspaceFolder") {
      return vars.workspaceFolder ?? whole;
    }
    if (name.startsWith("env:")) {
      return vars.env[name.slice(4)] ?? "";
    }
    return whole;
  });
}

export interface ServerSettings {
  /** As written (expanded), before it is looked up. */
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The server's command line and environment: `base` (VS Code's own environment) plus `assistantRouter.server.env`. */
export function buildServerSettings(
  settings: Pick<RawSettings, "command" | "args" | "env">,
  base: Readonly<Record<string, string | undefined>>,
  vars: Omit<Variables, "env">,
): Built<ServerSettings> {
  const warnings: string[] = [];
  const expandVars: Variables = { ...vars, env: base };

  let command = DEFAULT_COMMAND;
  if (typeof settings.command === "string") {
    if (settings.command.trim() !== "") {
      command = expandVariables(settings.command.trim(), expandVars);
    }
  } else if (settings.command !== undefined && settings.command !== null) {
    warnings.push(`${SECTION}.server.command: expected a string; using "${DEFAULT_COMMAND}"`);
  }

  let args = [...DEFAULT_ARGS];
  if (Array.isArray(settings.args)) {
    const list = settings.args as unknown[];
    if (list.every((a): a is string => typeof a === "string")) {
      args = list.map((a) => expandVariables(a, expandVars));
    } else {
      warnings.push(`${SECTION}.server.args: expected a list of strings; using ${JSON.stringify(DEFAULT_ARGS)}`);
    }
  } else if (settings.args !== undefined && settings.args !== null) {
    warnings.push(`${SECTION}.server.args: expected a list of strings; using ${JSON.stringify(DEFAULT_ARGS)}`);
  }

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined) {
      env[key] = value;
    }
  }
  if (settings.env !== undefined && settings.env !== null) {
    if (typeof settings.env !== "object" || Array.isArray(settings.env)) {
      warnings.push(`${SECTION}.server.env: expected an object of NAME: value; ignored`);
    } else {
      for (const [key, value] of Object.entries(settings.env as Record<string, unknown>)) {
        if (key === "") {
          warnings.push(`${SECTION}.server.env: ignored an empty variable name`);
        } else if (value === null) {
          delete env[key];
        } else if (typeof value === "string") {
          env[key] = expandVariables(value, expandVars);
        } else if (typeof value === "number" || typeof value === "boolean") {
          env[key] = String(value);
        } else {
          warnings.push(`${SECTION}.server.env.${key}: expected a string; ignored`);
        }
      }
    }
  }
  return { value: { command, args, env }, warnings };
}

export interface LookupContext {
  platform: string;
  /** The PATH the server will be started with. */
  pathEnv: string | undefined;
  /** Windows: PATHEXT. */
  pathExt?: string;
  /** Where a relative path is taken from (the workspace folder). */
  cwd?: string;
  isExecutable(file: string): boolean;
}

export type Resolution =
  | { found: true; path: string }
  | { found: false; command: string; isPath: boolean; tried: string[] };

function hasSeparator(command: string, platform: string): boolean {
  return command.includes("/") || (platform === "win32" && command.includes("\\"));
}

/** Finds the executable as the shell would: a path as it is (relative to `cwd`), a bare name on PATH. */
export function resolveCommand(command: string, ctx: LookupContext): Resolution {
  const p = ctx.platform === "win32" ? path.win32 : path.posix;
  const extensions =
    ctx.platform === "win32" && !p.extname(command)
      ? ["", ...(ctx.pathExt ?? ".COM;.EXE;.BAT;.CMD").split(";").filter(Boolean)]
      : [""];
  const tried: string[] = [];
  const attempt = (file: string): string | undefined => {
    for (const ext of extensions) {
      const candidate = file + ext;
      tried.push(candidate);
      if (ctx.isExecutable(candidate)) {
        return candidate;
      }
    }
    return undefined;
  };

  if (command === "") {
    return { found: false, command, isPath: false, tried };
  }
  if (hasSeparator(command, ctx.platform) || p.isAbsolute(command)) {
    const file = p.isAbsolute(command) || !ctx.cwd ? command : p.join(ctx.cwd, command);
    const hit = attempt(file);
    return hit ? { found: true, path: hit } : { found: false, command, isPath: true, tried };
  }
  const delimiter = ctx.platform === "win32" ? ";" : ":";
  for (const dir of (ctx.pathEnv ?? "").split(delimiter)) {
    if (dir === "") {
      continue;
    }
    const hit = attempt(p.join(dir.replace(/^"(.*)"$/, "$1"), command));
    if (hit) {
      return { found: true, path: hit };
    }
  }
  return { found: false, command, isPath: false, tried };
}

/** The error shown when the server cannot be found: what is missing, and how to get it. */
export function serverNotFoundMessage(resolution: Extract<Resolution, { found: false }>): string {
  const setting = `${SECTION}.server.command`;
  if (resolution.command === "") {
    return `assistant-router: ${setting} is empty. Install the server with \`${INSTALL_COMMAND}\`, or set ${setting} to its path.`;
  }
  if (resolution.isPath) {
    return (
      `assistant-router: the language server "${resolution.command}" was not found or is not executable. ` +
      `Fix ${setting}, or install the server with \`${INSTALL_COMMAND}\`.`
    );
  }
  return (
    `assistant-router: the language server "${resolution.command}" was not found on PATH. ` +
    `Install it with \`${INSTALL_COMMAND}\` (the path of your clone of the repository; or pip install it into the environment VS Code starts from), ` +
    `or set ${setting} to its full path.`
  );
}

/** Which settings, when changed, need the server restarted (they are only read at start). */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return ["server", "tasks", "statusBar", "inlineCompletion"].some((key) => affects(`${SECTION}.${key}`));
}
