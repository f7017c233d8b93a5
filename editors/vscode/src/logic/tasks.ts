// The server's tasks, in its order, with the words its code-action titles use.
// Pure: no `vscode` import, so the unit tests run under plain Node.

export const TASKS = ["scaffold", "test", "fix", "refactor", "debug", "review", "explain"] as const;

export type Task = (typeof TASKS)[number];

const VERBS: Record<Task, string> = {
  scaffold: "Scaffold code for",
  test: "Write tests for",
  fix: "Fix",
  refactor: "Refactor",
  debug: "Debug",
  review: "Review",
  explain: "Explain",
};

const DELIVERY: Record<Task, string> = {
  scaffold: "an edit replacing the selection, or inserted at the cursor",
  test: "an edit inserted after the selection",
  fix: "an edit replacing the selection",
  refactor: "an edit replacing the selection",
  debug: "a Markdown document",
  review: "diagnostics on the document",
  explain: "a Markdown document",
};

export function isTask(value: unknown): value is Task {
  return typeof value === "string" && (TASKS as readonly string[]).includes(value);
}

/** `Write tests for`, `Review`, … (the start of the server's code-action titles). */
export function taskVerb(task: Task): string {
  return VERBS[task];
}

/** `Review`, `Test`, … : the task's name as a title word. */
export function taskTitle(task: string): string {
  return task ? task.charAt(0).toUpperCase() + task.slice(1) : task;
}

/** How the server delivers the task's result. */
export function taskDelivery(task: Task): string {
  return DELIVERY[task];
}
