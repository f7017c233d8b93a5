// The package.json manifest and the code must agree: commands, activation
// events, settings, and what goes into the .vsix.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { INLINE_DEFAULT, INLINE_SETTING } from "../src/logic/completion";
import { COMMANDS, LANGUAGES, POLICY_FILE_PATTERN, documentSelector } from "../src/logic/contributions";
import { DEFAULT_ARGS, DEFAULT_COMMAND, SECTION, buildInitializationOptions } from "../src/logic/settings";

const root = join(__dirname, "..");

interface Manifest {
  name: string;
  main: string;
  engines: Record<string, string>;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, { type: unknown; default?: unknown; items?: { enum?: string[] }; enum?: string[]; markdownDescription?: string; description?: string }> };
  };
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
const settings = manifest.contributes.configuration.properties;

describe("package.json", () => {
  it("contributes exactly the extension's palette commands", () => {
    assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), Object.values(COMMANDS).sort());
    for (const c of manifest.contributes.commands) {
      assert.equal(c.category, "assistant-router");
      assert.ok(c.title.length > 0);
    }
  });
  it("activates on every synced language, the policy file and every command", () => {
    const events = new Set(manifest.activationEvents);
    for (const language of LANGUAGES) {
      assert.ok(events.has(`onLanguage:${language}`), language);
    }
    for (const command of Object.values(COMMANDS)) {
      assert.ok(events.has(`onCommand:${command}`), command);
    }
    assert.ok(events.has(`workspaceContains:${POLICY_FILE_PATTERN}`));
  });
  it("has a described, typed setting for everything the extension reads", () => {
    for (const key of ["server.command", "server.args", "server.env", "tasks", "statusBar", INLINE_SETTING, "trace.server"]) {
      const setting = settings[`${SECTION}.${key}`];
      assert.ok(setting, key);
      assert.ok(setting.type, `${key} has a type`);
      assert.ok((setting.markdownDescription ?? setting.description ?? "").length > 20, `${key} is described`);
    }
    assert.deepEqual(Object.keys(settings).sort(), [
      "assistantRouter.inlineCompletion.enabled",
      "assistantRouter.server.args",
      "assistantRouter.server.command",
      "assistantRouter.server.env",
      "assistantRouter.statusBar",
      "assistantRouter.tasks",
      "assistantRouter.trace.server",
    ]);
  });
  it("ignores a workspace's own server command, args and env until it is trusted", () => {
    const trust = manifest.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, "limited");
    assert.deepEqual(trust.restrictedConfigurations.sort(), [
      "assistantRouter.server.args",
      "assistantRouter.server.command",
      "assistantRouter.server.env",
    ]);
  });
  it("has the same defaults as the code", () => {
    assert.equal(settings["assistantRouter.server.command"]?.default, DEFAULT_COMMAND);
    assert.deepEqual(settings["assistantRouter.server.args"]?.default, DEFAULT_ARGS);
    assert.equal(settings["assistantRouter.statusBar"]?.default, true);
    assert.equal(settings[`${SECTION}.${INLINE_SETTING}`]?.type, "boolean");
    assert.equal(settings[`${SECTION}.${INLINE_SETTING}`]?.default, INLINE_DEFAULT);
    assert.deepEqual(settings["assistantRouter.trace.server"]?.enum, ["off", "messages", "verbose"]);
  });
  it("copies no task list: the tasks setting takes any name, and defaults to every task the server has", () => {
    const tasks = settings["assistantRouter.tasks"];
    assert.deepEqual(tasks?.default, []);
    assert.deepEqual(tasks?.items, { type: "string" });
    assert.equal(buildInitializationOptions({ tasks: tasks?.default }).value.tasks, undefined);
    // No setting's enum or description spells out the server's tasks.
    const text = JSON.stringify(manifest.contributes);
    for (const name of ["scaffold", "refactor", "explain"]) {
      assert.ok(!text.includes(name), name);
    }
  });
  it("loads the bundle, on VS Code versions vscode-languageclient 9 supports", () => {
    assert.equal(manifest.main, "./dist/extension.js");
    // 9.x: inline completion is a proposed feature, which src/extension.ts registers
    // (registerProposedFeatures); it is a default one from 11, which needs VS Code 1.91.
    assert.match(manifest.dependencies["vscode-languageclient"] ?? "", /^\^9\./);
    assert.equal(manifest.engines.vscode, "^1.82.0");
    // vsce refuses @types/vscode newer than engines.vscode.
    assert.match(manifest.devDependencies["@types/vscode"] ?? "", /^~1\.82\./);
  });
  it("has the scripts the Makefile runs", () => {
    for (const script of ["build", "lint", "test", "package", "ci"]) {
      assert.ok(manifest.scripts[script], script);
    }
    assert.match(manifest.scripts.ci ?? "", /build.*lint.*test.*package/);
  });
});

describe("documentSelector", () => {
  it("covers files of every language and the policy file", () => {
    const selector = documentSelector();
    assert.equal(selector.length, LANGUAGES.length + 1);
    assert.ok(selector.every((f) => f.scheme === "file"));
    assert.deepEqual(selector.at(-1), { scheme: "file", pattern: "**/.assistant-router.toml" });
  });
});

describe(".vscodeignore", () => {
  const ignore = readFileSync(join(root, ".vscodeignore"), "utf8").split("\n").map((l) => l.trim());
  it("keeps sources, tests, tools and node_modules out of the .vsix", () => {
    for (const pattern of ["src/**", "test/**", "tools/**", "node_modules/**", "e2e/**", "scripts/**", "**/*.map"]) {
      assert.ok(ignore.includes(pattern), pattern);
    }
  });
});
