"""A stand-in language server with a task table of its own, for showing that an
editor client takes its tasks from the server it talks to (no copy of the
real server's list can pass these tests).

    python fake_server.py

Environment:

- ``FAKE_TASKS``: the task table, a JSON list of rows (the real server's row format);
- ``FAKE_TABLE_IN``: ``capabilities`` (the default: in the initialize result's
  ``capabilities.experimental.assistantRouter``) or ``command`` (only as the
  answer to ``assistant.tasks``, as a server that leaves it out of initialize);
- ``FAKE_LOG``: a file that gets one JSON line per message received.

It answers ``initialize``, ``shutdown``, ``workspace/executeCommand`` (the table
for ``assistant.tasks``; a small result for the rest) and any other request with
null, and exits on ``exit`` or end of input. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys

COMMANDS = ["assistant.run", "assistant.route", "assistant.preview", "assistant.ask", "assistant.tasks"]


def read_message(stream) -> dict | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        return None
    return json.loads(stream.read(length).decode("utf-8"))


def write_message(stream, message: dict) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def main() -> int:
    rows = json.loads(os.environ.get("FAKE_TASKS", "[]"))
    table_in = os.environ.get("FAKE_TABLE_IN", "capabilities")
    log_path = os.environ.get("FAKE_LOG")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

    def log(message: dict) -> None:
        if log_path:
            with open(log_path, "a", encoding="utf-8") as file:
                file.write(json.dumps({"method": message.get("method"), "params": message.get("params")}) + "\n")

    while (message := read_message(stdin)) is not None:
        method = message.get("method")
        if method is None:
            continue  # a response to a request of ours (we send none)
        log(message)
        if method == "exit":
            return 0
        if "id" not in message:
            continue  # a notification
        result = None
        if method == "initialize":
            capabilities: dict = {"textDocumentSync": 1, "executeCommandProvider": {"commands": COMMANDS}}
            if table_in == "capabilities":
                capabilities["experimental"] = {"assistantRouter": {"version": "0.0.0-fake", "tasks": rows}}
            result = {"capabilities": capabilities, "serverInfo": {"name": "assistant-router", "version": "0.0.0-fake"}}
        elif method == "workspace/executeCommand":
            params = message.get("params") or {}
            command = params.get("command")
            argument = (params.get("arguments") or [{}])[0] or {}
            if command == "assistant.tasks":
                result = {"tasks": rows}
            elif command in COMMANDS:
                result = {"task": argument.get("task"), "status": "shown", "alias": "fake", "model": "fake-model",
                          "reason": "the fake server", "chain": [{"alias": "fake", "model": "fake-model"}]}
        elif method == "textDocument/codeAction":
            result = []
        write_message(stdout, {"id": message["id"], "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
