import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  DEFAULT_ARGS,
  DEFAULT_COMMAND,
  INSTALL_COMMAND,
  buildInitializationOptions,
  buildServerSettings,
  expandVariables,
  needsRestart,
  resolveCommand,
  serverNotFoundMessage,
  type LookupContext,
  type Resolution,
} from "../src/logic/settings";

describe("buildInitializationOptions", () => {
  it("leaves the tasks to the server and asks for status notifications by default", () => {
    const { value, warnings } = buildInitializationOptions({});
    assert.deepEqual(value, { status_notifications: true });
    assert.deepEqual(warnings, []);
  });
  it("sends exactly the two keys the server accepts", () => {
    const { value } = buildInitializationOptions({ tasks: ["review"], statusBar: false });
    assert.deepEqual(Object.keys(value).sort(), ["status_notifications", "tasks"]);
    assert.deepEqual(value, { tasks: ["review"], status_notifications: false });
  });
  it("keeps the user's order and drops duplicates", () => {
    const { value, warnings } = buildInitializationOptions({ tasks: ["review", "explain", "review", " fix "] });
    assert.deepEqual(value.tasks, ["review", "explain", "fix"]);
    assert.deepEqual(warnings, []);
  });
  it("passes names it cannot know through: the server has the list, and warns about a name it lacks", () => {
    const { value, warnings } = buildInitializationOptions({ tasks: ["review", "Reveiw", "summarise"] });
    assert.deepEqual(value.tasks, ["review", "Reveiw", "summarise"]);
    assert.deepEqual(warnings, []);
  });
  it("drops what is not a name at all, with a warning, instead of losing the whole list", () => {
    const { value, warnings } = buildInitializationOptions({ tasks: ["review", 3, null, "  "] });
    assert.deepEqual(value.tasks, ["review"]);
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]!, /assistantRouter\.tasks: ignored 3, not a task name/);
  });
  it("sends no task list for an empty one: the server then offers all its tasks", () => {
    assert.deepEqual(buildInitializationOptions({ tasks: [] }).value, { status_notifications: true });
    assert.deepEqual(buildInitializationOptions({ tasks: [7] }).value, { status_notifications: true });
  });
  it("offers every task when tasks is not a list", () => {
    const { value, warnings } = buildInitializationOptions({ tasks: "review" });
    assert.equal(value.tasks, undefined);
    assert.match(warnings[0]!, /expected a list of task names/);
  });
  it("uses true for a statusBar that is not a boolean", () => {
    const { value, warnings } = buildInitializationOptions({ statusBar: "no" });
    assert.equal(value.status_notifications, true);
    assert.match(warnings[0]!, /assistantRouter\.statusBar: expected true or false/);
    assert.deepEqual(buildInitializationOptions({ statusBar: null }).warnings, []);
  });
});

describe("expandVariables", () => {
  const vars = { home: "/home/ann", workspaceFolder: "/work/repo", env: { VENV: "/opt/venv", EMPTY: "" } };
  it("expands ~, ${userHome}, ${workspaceFolder} and ${env:NAME}", () => {
    assert.equal(expandVariables("~/bin/assistant-router", vars), "/home/ann/bin/assistant-router");
    assert.equal(expandVariables("~", vars), "/home/ann");
    assert.equal(expandVariables("${userHome}/x", vars), "/home/ann/x");
    assert.equal(expandVariables("${workspaceFolder}/.venv/bin/assistant-router", vars), "/work/repo/.venv/bin/assistant-router");
    assert.equal(expandVariables("${env:VENV}/bin/assistant-router", vars), "/opt/venv/bin/assistant-router");
  });
  it("expands a missing env variable to nothing, as VS Code does", () => {
    assert.equal(expandVariables("a${env:NOPE}b", vars), "ab");
  });
  it("leaves ~ inside a value, unknown variables and a missing folder alone", () => {
    assert.equal(expandVariables("a~b", vars), "a~b");
    assert.equal(expandVariables("~ann/x", vars), "~ann/x");
    assert.equal(expandVariables("${config:x}", vars), "${config:x}");
    assert.equal(expandVariables("${workspaceFolder}/x", { home: "/h", env: {} }), "${workspaceFolder}/x");
  });
});

describe("buildServerSettings", () => {
  const base = { PATH: "/usr/bin:/bin", HOME: "/home/ann", UNSET: undefined };
  const vars = { home: "/home/ann", workspaceFolder: "/work/repo" };

  it("defaults to `assistant-router serve` with VS Code's environment", () => {
    const { value, warnings } = buildServerSettings({}, base, vars);
    assert.equal(value.command, DEFAULT_COMMAND);
    assert.deepEqual(value.args, [...DEFAULT_ARGS]);
    assert.deepEqual(value.env, { PATH: "/usr/bin:/bin", HOME: "/home/ann" });
    assert.deepEqual(warnings, []);
  });
  it("takes the command and args from the settings, expanded", () => {
    const { value } = buildServerSettings(
      { command: " ${workspaceFolder}/.venv/bin/assistant-router ", args: ["serve", "--log-level", "debug"] },
      base,
      vars,
    );
    assert.equal(value.command, "/work/repo/.venv/bin/assistant-router");
    assert.deepEqual(value.args, ["serve", "--log-level", "debug"]);
  });
  it("allows empty args (a wrapper script that starts the server itself)", () => {
    assert.deepEqual(buildServerSettings({ args: [] }, base, vars).value.args, []);
  });
  it("adds, overrides and removes environment variables", () => {
    const { value, warnings } = buildServerSettings(
      {
        env: {
          ASSISTANT_ROUTER_CONFIG: "~/offline.toml",
          PATH: "${env:PATH}:/opt/bin",
          HOME: null,
          RETRIES: 3,
        },
      },
      base,
      vars,
    );
    assert.deepEqual(value.env, {
      PATH: "/usr/bin:/bin:/opt/bin",
      ASSISTANT_ROUTER_CONFIG: "/home/ann/offline.toml",
      RETRIES: "3",
    });
    assert.deepEqual(warnings, []);
  });
  it("never changes the environment it was given", () => {
    const given = { PATH: "/usr/bin" };
    buildServerSettings({ env: { PATH: "/x", A: "b" } }, given, vars);
    assert.deepEqual(given, { PATH: "/usr/bin" });
  });
  it("warns about wrong types and uses the defaults", () => {
    const { value, warnings } = buildServerSettings(
      { command: 42, args: ["serve", 1], env: { OK: "yes", BAD: { a: 1 }, "": "x" } },
      base,
      vars,
    );
    assert.equal(value.command, DEFAULT_COMMAND);
    assert.deepEqual(value.args, [...DEFAULT_ARGS]);
    assert.equal(value.env.OK, "yes");
    assert.ok(!("BAD" in value.env));
    assert.equal(warnings.length, 4);
    assert.match(warnings.join("\n"), /server\.command: expected a string/);
    assert.match(warnings.join("\n"), /server\.args: expected a list of strings/);
    assert.match(warnings.join("\n"), /server\.env\.BAD: expected a string/);
    assert.match(warnings.join("\n"), /empty variable name/);
  });
  it("warns about env or args that are not the right shape", () => {
    const { warnings } = buildServerSettings({ env: ["A=b"], args: "serve" }, base, vars);
    assert.equal(warnings.length, 2);
    assert.match(warnings.join("\n"), /server\.env: expected an object/);
  });
  it("takes a blank command as the default", () => {
    const { value, warnings } = buildServerSettings({ command: "  " }, base, vars);
    assert.equal(value.command, DEFAULT_COMMAND);
    assert.deepEqual(warnings, []);
  });
});

function lookup(files: string[], overrides: Partial<LookupContext> = {}): LookupContext & { checked: string[] } {
  const checked: string[] = [];
  return {
    platform: "linux",
    pathEnv: "/usr/local/bin:/usr/bin::/home/ann/.local/bin",
    cwd: "/work/repo",
    isExecutable: (file: string) => {
      checked.push(file);
      return files.includes(file);
    },
    checked,
    ...overrides,
  };
}

describe("resolveCommand", () => {
  it("finds a bare name on PATH, first hit wins", () => {
    const ctx = lookup(["/usr/bin/assistant-router", "/home/ann/.local/bin/assistant-router"]);
    assert.deepEqual(resolveCommand("assistant-router", ctx), { found: true, path: "/usr/bin/assistant-router" });
    assert.deepEqual(ctx.checked, ["/usr/local/bin/assistant-router", "/usr/bin/assistant-router"]);
  });
  it("skips empty PATH entries (not the current directory)", () => {
    const ctx = lookup([]);
    const r = resolveCommand("assistant-router", ctx);
    assert.equal(r.found, false);
    assert.deepEqual(ctx.checked, [
      "/usr/local/bin/assistant-router",
      "/usr/bin/assistant-router",
      "/home/ann/.local/bin/assistant-router",
    ]);
  });
  it("reports a name that is nowhere on PATH", () => {
    assert.deepEqual(resolveCommand("assistant-router", lookup([], { pathEnv: undefined })), {
      found: false,
      command: "assistant-router",
      isPath: false,
      tried: [],
    });
  });
  it("takes an absolute path as it is", () => {
    const ctx = lookup(["/opt/ar/bin/assistant-router"]);
    assert.deepEqual(resolveCommand("/opt/ar/bin/assistant-router", ctx), { found: true, path: "/opt/ar/bin/assistant-router" });
    const missing = resolveCommand("/opt/none/assistant-router", ctx);
    assert.deepEqual(missing, { found: false, command: "/opt/none/assistant-router", isPath: true, tried: ["/opt/none/assistant-router"] });
  });
  it("takes a relative path from the workspace folder", () => {
    const ctx = lookup(["/work/repo/.venv/bin/assistant-router"]);
    assert.deepEqual(resolveCommand(".venv/bin/assistant-router", ctx), {
      found: true,
      path: "/work/repo/.venv/bin/assistant-router",
    });
  });
  it("finds a Windows shim through PATHEXT", () => {
    const ctx = lookup(["C:\\Users\\ann\\.local\\bin\\assistant-router.EXE"], {
      platform: "win32",
      pathEnv: 'C:\\Windows;"C:\\Users\\ann\\.local\\bin"',
      pathExt: ".COM;.EXE;.BAT",
      cwd: "C:\\repo",
    });
    assert.deepEqual(resolveCommand("assistant-router", ctx), {
      found: true,
      path: "C:\\Users\\ann\\.local\\bin\\assistant-router.EXE",
    });
    assert.equal(ctx.checked[0], "C:\\Windows\\assistant-router");
  });
  it("takes a Windows path with backslashes as a path", () => {
    const ctx = lookup(["C:\\repo\\.venv\\Scripts\\assistant-router.exe"], { platform: "win32", cwd: "C:\\repo" });
    assert.deepEqual(resolveCommand(".venv\\Scripts\\assistant-router.exe", ctx), {
      found: true,
      path: "C:\\repo\\.venv\\Scripts\\assistant-router.exe",
    });
  });
  it("finds nothing for an empty command", () => {
    assert.equal(resolveCommand("", lookup(["/usr/bin/"])).found, false);
  });
});

describe("serverNotFoundMessage", () => {
  const notFound = (command: string, isPath: boolean): Extract<Resolution, { found: false }> => ({
    found: false,
    command,
    isPath,
    tried: [],
  });
  it("names the command, PATH, the install command and the setting", () => {
    const text = serverNotFoundMessage(notFound("assistant-router", false));
    assert.match(text, /"assistant-router" was not found on PATH/);
    assert.ok(text.includes(`\`${INSTALL_COMMAND}\``));
    assert.equal(INSTALL_COMMAND, "pipx install /path/to/assistant-router");
    assert.match(text, /assistantRouter\.server\.command/);
  });
  it("says a configured path is wrong", () => {
    const text = serverNotFoundMessage(notFound("/opt/x/assistant-router", true));
    assert.match(text, /"\/opt\/x\/assistant-router" was not found or is not executable/);
    assert.match(text, /Fix assistantRouter\.server\.command/);
    assert.ok(text.includes(INSTALL_COMMAND));
  });
  it("handles an empty command", () => {
    assert.match(serverNotFoundMessage(notFound("", false)), /assistantRouter\.server\.command is empty/);
  });
});

describe("needsRestart", () => {
  it("restarts for the server settings, tasks, statusBar and inline completion, not for the trace", () => {
    const changed = (...sections: string[]) => (s: string) => sections.some((c) => c === s || c.startsWith(`${s}.`));
    assert.ok(needsRestart(changed("assistantRouter.server.command")));
    assert.ok(needsRestart(changed("assistantRouter.server.env")));
    assert.ok(needsRestart(changed("assistantRouter.tasks")));
    assert.ok(needsRestart(changed("assistantRouter.statusBar")));
    assert.ok(needsRestart(changed("assistantRouter.inlineCompletion.enabled")));
    assert.ok(!needsRestart(changed("assistantRouter.trace.server")));
    assert.ok(!needsRestart(changed("editor.fontSize")));
  });
});
