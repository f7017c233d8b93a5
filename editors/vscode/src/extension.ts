// The VS Code side: starts `assistant-router serve` through
// vscode-languageclient, adds the palette commands and the status bar item.
// Everything that can be decided without VS Code lives in ./logic (unit-tested);
// this file only wires it to the editor.

import * as fs from "node:fs";
import * as os from "node:os";

import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";

import {
  type Range,
  askRange,
  buildAskArgs,
  buildRouteArgs,
  buildTaskArgs,
  diagnosticsInRange,
  isEmptyRange,
  taskRange,
  toRange,
} from "./logic/args";
import {
  INLINE_SETTING,
  completionRouteArgs,
  completionStatusView,
  inlineCompletionEnabled,
  serverOffersInlineCompletion,
} from "./logic/completion";
import { COMMANDS, LANGUAGES, OPEN_SETTINGS_COMMAND, SERVER_COMMANDS, documentSelector } from "./logic/contributions";
import { type Notice, formatPreviewResult, formatRoute, formatRunResult } from "./logic/messages";
import {
  INSTALL_COMMAND,
  type Resolution,
  SECTION,
  buildInitializationOptions,
  buildServerSettings,
  needsRestart,
  resolveCommand,
  serverNotFoundMessage,
} from "./logic/settings";
import {
  STATUS_NOTIFICATION,
  type ServerState,
  type StatusBarView,
  idleStatusBarView,
  parseStatus,
  statusBarView,
} from "./logic/status";
import { type Task, TaskTable, taskPicks } from "./logic/tasks";

const OPEN_SETTINGS = "Open Settings";
const OPEN_LOG = "Open Log";
const COPY_INSTALL = "Copy Install Command";

/** The editor, document and selection a palette command works on. */
interface Target {
  client: LanguageClient;
  document: vscode.TextDocument;
  uri: string;
  selection: Range;
  lineText: string;
}

function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (process.platform !== "win32") {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/** An environment variable, by name, case-insensitively on Windows. */
function envValue(env: Record<string, string>, name: string): string | undefined {
  if (process.platform !== "win32") {
    return env[name];
  }
  const key = Object.keys(env).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class AssistantRouter implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient | undefined> | undefined;
  private state: ServerState = "starting";
  private lastView: StatusBarView | undefined;
  private lastTask: Task | undefined;
  /** The server's task table, asked for once per client (the extension has none of its own). */
  private tableLoad: { client: LanguageClient; table: Promise<TaskTable | undefined> } | undefined;
  /** The same table once it has arrived, for what cannot wait (the status bar). */
  private tasks: TaskTable | undefined;
  private lastPrompt = "";
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly output: vscode.OutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  /** The model inline completions go to, for the active document (when the server offers them). */
  private readonly completionItem: vscode.StatusBarItem;
  private completionTimer: ReturnType<typeof setTimeout> | undefined;
  private completionAsked = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.output = vscode.window.createOutputChannel("assistant-router");
    this.statusItem = vscode.window.createStatusBarItem("assistantRouter.status", vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = "assistant-router";
    this.completionItem = vscode.window.createStatusBarItem("assistantRouter.completion", vscode.StatusBarAlignment.Right, 99);
    this.completionItem.name = "assistant-router: inline completions";
    this.disposables.push(
      this.output,
      this.statusItem,
      this.completionItem,
      vscode.commands.registerCommand(COMMANDS.ask, () => this.ask()),
      vscode.commands.registerCommand(COMMANDS.showRoute, (arg?: { task?: unknown }) => this.showRoute(arg)),
      vscode.commands.registerCommand(COMMANDS.preview, () => this.preview()),
      vscode.commands.registerCommand(COMMANDS.restartServer, () => this.restart()),
      vscode.commands.registerCommand(COMMANDS.openLog, () => this.output.show(true)),
      vscode.commands.registerCommand(OPEN_SETTINGS_COMMAND, (query?: unknown) => this.openSettings(query)),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
      vscode.window.onDidChangeActiveTextEditor(() => this.refreshCompletionItem()),
      vscode.workspace.onDidSaveTextDocument((document) => {
        if (document.uri.path.endsWith("/.assistant-router.toml")) {
          this.refreshCompletionItem(); // the policy may route completions elsewhere now
        }
      }),
    );
    this.render();
  }

  // ------------------------------------------------------------ the server

  /** The running client, starting the server if it is not running. */
  async start(): Promise<LanguageClient | undefined> {
    if (this.client?.isRunning()) {
      return this.client;
    }
    this.starting ??= this.startServer().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startServer(): Promise<LanguageClient | undefined> {
    if (this.client) {
      await this.stop();
    }
    const config = vscode.workspace.getConfiguration(SECTION);
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file")?.uri.fsPath;
    const server = buildServerSettings(
      { command: config.get("server.command"), args: config.get("server.args"), env: config.get("server.env") },
      process.env,
      { home: os.homedir(), workspaceFolder: folder },
    );
    const init = buildInitializationOptions({ tasks: config.get("tasks"), statusBar: config.get("statusBar") });
    const inline = inlineCompletionEnabled(config.get(INLINE_SETTING));
    this.warnAboutSettings([...server.warnings, ...init.warnings, ...inline.warnings]);

    const { command, args, env } = server.value;
    const resolution = resolveCommand(command, {
      platform: process.platform,
      pathEnv: envValue(env, "PATH"),
      pathExt: envValue(env, "PATHEXT"),
      cwd: folder,
      isExecutable,
    });
    if (!resolution.found) {
      this.log(`not found: ${command} (looked for ${resolution.tried.length} candidates; PATH=${envValue(env, "PATH") ?? ""})`);
      this.setState("notFound");
      void this.reportNotFound(resolution);
      return undefined;
    }

    this.log(`starting ${resolution.path} ${args.join(" ")} with ${JSON.stringify(init.value)}`);
    const serverOptions: ServerOptions = {
      command: resolution.path,
      args,
      // stdio, by leaving `transport` out: TransportKind.stdio would add `--stdio` to the arguments.
      // A Windows .cmd/.bat shim (pipx, npm) only runs through the shell.
      options: { env, cwd: folder, shell: process.platform === "win32" && /\.(cmd|bat)$/i.test(resolution.path) },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(),
      initializationOptions: init.value,
      outputChannel: this.output,
      // The server shows what matters with window/showMessage; the log is one command away.
      revealOutputChannelOn: RevealOutputChannelOn.Never,
    };
    const client = new LanguageClient("assistantRouter", "assistant-router", serverOptions, clientOptions);
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Running) {
        this.setState("running");
      } else if (e.newState === State.Starting) {
        this.setState("starting");
      } else {
        this.setState("stopped");
      }
    });
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => this.onStatus(params));
    if (inline.value) {
      // vscode-languageclient 9: inline completion is a proposed feature (the only one in 9.0.1).
      // It declares textDocument.inlineCompletion, registers the provider and runs each item's
      // command (assistant.inlineCompletionAccepted) when you accept it.
      client.registerProposedFeatures();
    }
    this.client = client;
    this.setState("starting");
    try {
      await client.start();
    } catch (error) {
      // vscode-languageclient has already shown the error (with a button to the log).
      this.log(`the server did not start: ${errorText(error)}`);
      if (this.client === client) {
        this.client = undefined;
        this.setState("stopped");
      }
      return undefined;
    }
    void this.taskTable(client);
    this.log(
      inline.value
        ? `inline completions: ${serverOffersInlineCompletion(client.initializeResult?.capabilities) ? "on" : "not offered by the server"}`
        : `inline completions: off (${SECTION}.${INLINE_SETTING})`,
    );
    this.refreshCompletionItem();
    return client;
  }

  /**
   * The server's task table: from its initialize result, or (a server that
   * leaves it out there) from its `assistant.tasks` command. Undefined, and
   * logged, when the server has neither.
   */
  private taskTable(client: LanguageClient): Promise<TaskTable | undefined> {
    if (this.tableLoad?.client !== client) {
      this.tasks = undefined;
      const table = this.loadTaskTable(client).then((loaded) => {
        if (this.client === client) {
          this.tasks = loaded;
        }
        return loaded;
      });
      this.tableLoad = { client, table };
    }
    return this.tableLoad.table;
  }

  private async loadTaskTable(client: LanguageClient): Promise<TaskTable | undefined> {
    let table = TaskTable.fromCapabilities(client.initializeResult?.capabilities);
    let source = "the initialize result";
    if (table === undefined) {
      source = SERVER_COMMANDS.tasks;
      try {
        table = TaskTable.fromCommandResult(
          await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS.tasks, arguments: [] }),
        );
      } catch (error) {
        this.log(`${SERVER_COMMANDS.tasks} failed: ${errorText(error)}`);
      }
    }
    if (table === undefined) {
      this.log("the server sent no task table; is assistant-router up to date?");
      return undefined;
    }
    this.log(`tasks (from ${source}): ${table.names.join(", ")}`);
    const unknown = table.unknown(this.taskSetting());
    if (unknown.length > 0) {
      // The server ignores them too, and has said so in a warning.
      this.log(`settings: ${SECTION}.tasks: the server has no task ${unknown.map((n) => JSON.stringify(n)).join(", ")}`);
    }
    return table;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) {
      return;
    }
    try {
      await client.dispose(3000);
    } catch (error) {
      this.log(`stopping the server: ${errorText(error)}`);
    }
  }

  private async restart(): Promise<void> {
    this.log("restarting the server");
    await this.starting;
    await this.stop();
    await this.start();
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(SECTION)) {
      return;
    }
    this.render();
    if (needsRestart((section) => e.affectsConfiguration(section))) {
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        this.log("settings changed");
        void this.restart();
      }, 300);
    }
  }

  private warnAboutSettings(warnings: string[]): void {
    if (warnings.length === 0) {
      return;
    }
    for (const warning of warnings) {
      this.log(`settings: ${warning}`);
    }
    const more = warnings.length > 1 ? ` (and ${warnings.length - 1} more in the log)` : "";
    void vscode.window
      .showWarningMessage(`assistant-router: ${warnings[0]}${more}`, OPEN_SETTINGS, OPEN_LOG)
      .then((choice) => this.onButton(choice));
  }

  private async reportNotFound(resolution: Extract<Resolution, { found: false }>): Promise<void> {
    const message = serverNotFoundMessage(resolution);
    this.log(message);
    const choice = await vscode.window.showErrorMessage(message, OPEN_SETTINGS, COPY_INSTALL, OPEN_LOG);
    if (choice === COPY_INSTALL) {
      await vscode.env.clipboard.writeText(INSTALL_COMMAND);
      void vscode.window.showInformationMessage(`Copied: ${INSTALL_COMMAND}`);
    } else {
      this.onButton(choice);
    }
  }

  private onButton(choice: string | undefined): void {
    if (choice === OPEN_SETTINGS) {
      this.openSettings();
    } else if (choice === OPEN_LOG) {
      this.output.show(true);
    }
  }

  private openSettings(query?: unknown): void {
    void vscode.commands.executeCommand("workbench.action.openSettings", typeof query === "string" ? query : `${SECTION}.server`);
  }

  // ------------------------------------------------------------ status bar

  private onStatus(params: unknown): void {
    const status = parseStatus(params);
    if (status === undefined) {
      this.log(`ignored a malformed ${STATUS_NOTIFICATION}: ${JSON.stringify(params)}`);
      return;
    }
    if (this.tasks?.has(status.task)) {
      this.lastTask = status.task;
    }
    this.lastView = statusBarView(status, this.tasks);
    this.render();
  }

  private setState(state: ServerState): void {
    this.state = state;
    this.render();
    if (state !== "running") {
      this.refreshCompletionItem();
    }
  }

  /** Soon (after the editor settles): the completion item for the active document. */
  private refreshCompletionItem(): void {
    clearTimeout(this.completionTimer);
    this.completionTimer = setTimeout(() => void this.renderCompletionItem(), 200);
  }

  /**
   * The second status bar item: the model the server routes inline
   * completions to for the active document (`assistant.route` with the
   * `complete` task; no model is called). Hidden when completions are off,
   * the server does not offer them, or the document is not one of ours.
   */
  private async renderCompletionItem(): Promise<void> {
    const asked = ++this.completionAsked;
    const config = vscode.workspace.getConfiguration(SECTION);
    const client = this.client;
    const editor = vscode.window.activeTextEditor;
    if (
      !config.get<boolean>("statusBar", true) ||
      !inlineCompletionEnabled(config.get(INLINE_SETTING)).value ||
      client === undefined ||
      !client.isRunning() ||
      !serverOffersInlineCompletion(client.initializeResult?.capabilities) ||
      editor === undefined ||
      vscode.languages.match(documentSelector(), editor.document) === 0
    ) {
      this.completionItem.hide();
      return;
    }
    const args = completionRouteArgs(client.code2ProtocolConverter.asUri(editor.document.uri), editor.selection.active);
    let view;
    try {
      view = completionStatusView(
        await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMANDS.route, arguments: [args] }),
      );
    } catch (error) {
      this.log(`${SERVER_COMMANDS.route} (complete) failed: ${errorText(error)}`);
    }
    if (asked !== this.completionAsked) {
      return; // a newer refresh is on its way
    }
    if (view === undefined) {
      this.completionItem.hide();
      return;
    }
    this.completionItem.text = view.text;
    this.completionItem.tooltip = new vscode.MarkdownString(view.tooltip);
    this.completionItem.command = { title: "assistant-router", command: view.click.command, arguments: view.click.args };
    this.completionItem.show();
  }

  private render(): void {
    const enabled = vscode.workspace.getConfiguration(SECTION).get<boolean>("statusBar", true);
    if (!enabled) {
      this.statusItem.hide();
      this.completionItem.hide();
      return;
    }
    const view = this.state === "running" && this.lastView ? this.lastView : idleStatusBarView(this.state);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = new vscode.MarkdownString(view.tooltip);
    this.statusItem.backgroundColor =
      view.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
    this.statusItem.command = { title: "assistant-router", command: view.click.command, arguments: view.click.args };
    this.statusItem.show();
  }

  // ------------------------------------------------------------ commands

  /** The active editor's selection, with the server running; undefined (and the user told why) otherwise. */
  private async target(): Promise<Target | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showInformationMessage("assistant-router: open a file and select some code first.");
      return undefined;
    }
    const document = editor.document;
    if (vscode.languages.match(documentSelector(), document) === 0) {
      const hint = document.uri.scheme === "file" ? "" : " Save it to a file first.";
      void vscode.window.showWarningMessage(
        `assistant-router does not handle ${document.languageId} files.${hint} It works on ${LANGUAGES.join(", ")}.`,
      );
      return undefined;
    }
    const client = await this.start();
    if (client === undefined) {
      return undefined;
    }
    const { anchor, active } = editor.selection;
    return {
      client,
      document,
      uri: client.code2ProtocolConverter.asUri(document.uri),
      selection: toRange(anchor, active),
      lineText: document.lineAt(active.line).text,
    };
  }

  private diagnostics(target: Target, range: Range) {
    return diagnosticsInRange(vscode.languages.getDiagnostics(target.document.uri), range);
  }

  /** A server command; undefined (and the error shown) when the request fails. */
  private async execute(client: LanguageClient, command: string, args: object): Promise<unknown> {
    try {
      return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] });
    } catch (error) {
      const message = `assistant-router: ${command} failed: ${errorText(error)}`;
      this.log(message);
      const choice = await vscode.window.showErrorMessage(message, OPEN_LOG);
      this.onButton(choice);
      return undefined;
    }
  }

  private notify(notice: Notice): void {
    this.log(notice.text);
    if (!notice.notify) {
      return;
    }
    const text = `assistant-router: ${notice.text}`;
    if (notice.level === "error") {
      void vscode.window.showErrorMessage(text);
    } else if (notice.level === "warning") {
      void vscode.window.showWarningMessage(text);
    } else {
      void vscode.window.showInformationMessage(text);
    }
  }

  /** The task names in the settings, as sent to the server (undefined: every task). */
  private taskSetting(): string[] | undefined {
    return buildInitializationOptions({ tasks: vscode.workspace.getConfiguration(SECTION).get("tasks") }).value.tasks;
  }

  /** The server's task table, or undefined (and the user told why). */
  private async requireTasks(client: LanguageClient): Promise<TaskTable | undefined> {
    const table = await this.taskTable(client);
    if (table === undefined) {
      const choice = await vscode.window.showErrorMessage(
        "assistant-router: the server sent no list of tasks. Is assistant-router up to date?",
        OPEN_LOG,
      );
      this.onButton(choice);
    }
    return table;
  }

  /**
   * A task from a quick pick of the server's tasks (those offered in the
   * settings); with `describe`, the user may write a request for the server
   * to classify instead.
   */
  private async pickTask(
    table: TaskTable,
    title: string,
    describe: boolean,
  ): Promise<{ task?: Task; prompt?: string } | undefined> {
    type Item = vscode.QuickPickItem & { task?: Task; describe?: true };
    const items: Item[] = taskPicks(table, this.taskSetting(), this.lastTask);
    if (describe) {
      items.push({ label: "", kind: vscode.QuickPickItemKind.Separator });
      items.push({ label: "$(comment) Describe it in words…", description: "the server picks the task", describe: true });
    }
    const picked = await vscode.window.showQuickPick(items, { title, placeHolder: "Which task?" });
    if (picked === undefined) {
      return undefined;
    }
    if (picked.task !== undefined) {
      return { task: picked.task };
    }
    const prompt = await vscode.window.showInputBox({
      title,
      prompt: "What should be done with the selection?",
      placeHolder: "e.g. write tests for this, why does this crash?",
      value: this.lastPrompt,
    });
    if (!prompt?.trim()) {
      return undefined;
    }
    this.lastPrompt = prompt;
    return { prompt };
  }

  async ask(): Promise<void> {
    const target = await this.target();
    if (target === undefined) {
      return;
    }
    const prompt = await vscode.window.showInputBox({
      title: "assistant-router: Ask",
      prompt: "What should be done with the selection? The server picks the task and the model.",
      placeHolder: "e.g. write tests for this, make it faster, why does this crash?",
      value: this.lastPrompt,
      ignoreFocusOut: true,
    });
    if (prompt === undefined) {
      return;
    }
    if (!prompt.trim()) {
      void vscode.window.showInformationMessage("assistant-router: nothing to ask (the request was empty).");
      return;
    }
    let range = target.selection;
    if (isEmptyRange(range) && target.lineText.trim() !== "") {
      // A bare cursor on a line of code: which task does the request read as? (No model is called.)
      const routed = await this.execute(
        target.client,
        SERVER_COMMANDS.route,
        buildRouteArgs({ uri: target.uri, range, prompt }),
      );
      const likely = (routed as { task?: unknown } | undefined)?.task;
      const tasks = await this.taskTable(target.client);
      range = askRange(range, target.lineText, tasks?.get(likely));
    }
    const args = buildAskArgs({ uri: target.uri, range, prompt, diagnostics: this.diagnostics(target, range) });
    if (args === undefined) {
      return;
    }
    this.lastPrompt = args.prompt;
    const result = await this.execute(target.client, SERVER_COMMANDS.ask, args);
    if (result !== undefined) {
      this.notify(formatRunResult(result, args.prompt, await this.taskTable(target.client)));
    }
  }

  async showRoute(arg?: { task?: unknown }): Promise<void> {
    const target = await this.target();
    if (target === undefined) {
      return;
    }
    const tasks = await this.requireTasks(target.client);
    if (tasks === undefined) {
      return;
    }
    let task = tasks.has(arg?.task) ? arg.task : undefined;
    let prompt: string | undefined;
    if (task === undefined) {
      const picked = await this.pickTask(tasks, "assistant-router: Show route for selection", true);
      if (picked === undefined) {
        return;
      }
      ({ task, prompt } = picked);
    }
    const range = taskRange(tasks.get(task), target.selection, target.lineText);
    const result = await this.execute(target.client, SERVER_COMMANDS.route, buildRouteArgs({ task, uri: target.uri, range, prompt }));
    if (result === undefined) {
      return;
    }
    const text = formatRoute(result, prompt, tasks);
    this.log(`route: ${text}`);
    const routed = (result as { task?: unknown }).task;
    const runTask = tasks.has(routed) ? routed : task;
    const choice = await vscode.window.showInformationMessage(`assistant-router: ${text}`, "Run", "Preview");
    if (runTask === undefined || choice === undefined) {
      return;
    }
    const runRange = taskRange(tasks.get(runTask), target.selection, target.lineText);
    const args = buildTaskArgs({ task: runTask, uri: target.uri, range: runRange, prompt, diagnostics: this.diagnostics(target, runRange) });
    if (choice === "Run") {
      const outcome = await this.execute(target.client, SERVER_COMMANDS.run, args);
      if (outcome !== undefined) {
        this.notify(formatRunResult(outcome, undefined, tasks));
      }
    } else {
      await this.showPreview(target, args);
    }
  }

  async preview(): Promise<void> {
    const target = await this.target();
    if (target === undefined) {
      return;
    }
    const tasks = await this.requireTasks(target.client);
    if (tasks === undefined) {
      return;
    }
    const picked = await this.pickTask(tasks, "assistant-router: Preview request (nothing is sent)", false);
    if (picked?.task === undefined) {
      return;
    }
    const range = taskRange(tasks.get(picked.task), target.selection, target.lineText);
    await this.showPreview(
      target,
      buildTaskArgs({ task: picked.task, uri: target.uri, range, diagnostics: this.diagnostics(target, range) }),
    );
  }

  private async showPreview(target: Target, args: object): Promise<void> {
    const result = await this.execute(target.client, SERVER_COMMANDS.preview, args);
    if (result === undefined) {
      return;
    }
    const notice = formatPreviewResult(result);
    if (notice === undefined) {
      return; // the server opened the preview as a Markdown document
    }
    this.notify(notice);
    if ((result as { status?: unknown }).status !== "refused") {
      const document = await vscode.workspace.openTextDocument({ language: "json", content: JSON.stringify(result, null, 2) });
      await vscode.window.showTextDocument(document, { preview: true });
    }
  }

  // ------------------------------------------------------------ misc

  private log(message: string): void {
    this.output.appendLine(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
  }

  async dispose(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.completionTimer);
    await this.stop();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

let extension: AssistantRouter | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new AssistantRouter();
  context.subscriptions.push({ dispose: () => void extension?.dispose() });
  await extension.start();
}

export async function deactivate(): Promise<void> {
  const current = extension;
  extension = undefined;
  await current?.dispose();
}
