"""The LSP4IJ template in editors/jetbrains: its files in LSP4IJ's format, and
the real server accepting what LSP4IJ would send from them.

No JetBrains IDE can run here, so the template is checked against the format
LSP4IJ's own loader reads (redhat-developer/lsp4ij:
templates/ServerTemplateJsonDeserializer.java,
launching/templates/LanguageServerTemplateDeserializer.java and
LanguageServerTemplateManager.java, installation/definition/InstallerTaskRegistry.java,
InstallerTaskFactoryBase.java and tasks/ExecTask.java), and the server is
started with the template's command and initialization options.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from assistant_router.cli.demo import client_converter
from assistant_router.cli.main import LANGUAGE_BY_SUFFIX
from assistant_router.routing.tasks import task_table
from assistant_router.server.arguments import parse_client_options

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "editors" / "jetbrains"
FILES = ["template.json", "settings.json", "settings.schema.json", "initializationOptions.json", "installer.json"]
TASKS = [row["name"] for row in task_table()]  # the server's, in its order
OS_KEYS = {"default", "windows", "mac", "unix"}  # ServerTemplate.OS_KEY and DEFAULT_KEY
VENV_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from support import MOCK_USER_CONFIG, SAMPLE  # noqa: E402  (tests/support.py)


def load(name: str):
    return json.loads((TEMPLATE_DIR / name).read_text())


def command_words(command: str) -> list[str]:
    return shlex.split(command)


# --- the files -------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_each_template_file_is_a_json_object(name):
    assert isinstance(load(name), dict), f"{name} must hold a JSON object"


def test_template_descriptor_has_lsp4ij_fields():
    template = load("template.json")
    known = {"id", "name", "url", "dev", "programArgs", "env", "fileTypeMappings", "languageMappings",
             "expandConfiguration", "disablePromotionFor"}
    assert set(template) <= known, f"keys LSP4IJ does not read: {set(template) - known}"
    assert template["id"] == "assistant-router" and template["name"]
    # programArgs is read with getAsJsonObject(): an object of OS key -> command line.
    args = template["programArgs"]
    assert isinstance(args, dict) and "default" in args and set(args) <= OS_KEYS
    for os_key, command in args.items():
        words = command_words(command)
        assert Path(words[0]).stem == "assistant-router" and words[1:] == ["serve"], (os_key, command)
    env = template["env"]
    assert env["includeSystemEnvironmentVariables"] is True  # API keys come from the IDE's environment
    assert isinstance(env["variables"], dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env["variables"].items())


def test_file_mappings_use_the_servers_language_ids():
    mappings = load("template.json")["fileTypeMappings"]
    assert mappings
    seen = set()
    for mapping in mappings:
        file_type, language_id = mapping["fileType"], mapping["languageId"]
        patterns = file_type["patterns"]
        assert patterns and all(isinstance(p, str) and p.startswith("*.") for p in patterns)
        for pattern in patterns:
            suffix = pattern[1:]
            assert LANGUAGE_BY_SUFFIX.get(suffix) == language_id, (pattern, language_id)
            assert pattern not in seen
            seen.add(pattern)
    assert {"*.py", "*.js", "*.ts", "*.tsx", "*.go", "*.rs", "*.java"} <= seen


def _check_schema_by_hand(schema: dict) -> None:
    """The structure of a draft-07 object schema, for when jsonschema is not installed."""
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["type"] == "object"
    assert isinstance(schema.get("properties", {}), dict)
    for name, prop in schema.get("properties", {}).items():
        assert isinstance(name, str) and isinstance(prop, dict) and "type" in prop
    assert isinstance(schema.get("additionalProperties", True), (bool, dict))
    for key in ("title", "description", "$id"):
        assert isinstance(schema.get(key, ""), str)


def _validate_by_hand(instance: dict, schema: dict) -> None:
    assert isinstance(instance, dict)
    properties = schema.get("properties", {})
    if schema.get("additionalProperties", True) is False:
        assert set(instance) <= set(properties), f"not in the schema: {set(instance) - set(properties)}"


def test_settings_schema_is_valid_and_settings_conform():
    schema, settings = load("settings.schema.json"), load("settings.json")
    try:
        import jsonschema
    except ImportError:
        _check_schema_by_hand(schema)
        _validate_by_hand(settings, schema)
    else:
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate(settings, schema)
    # The server reads no workspace settings: nothing may pretend otherwise.
    assert settings == {} and schema["properties"] == {} and schema["additionalProperties"] is False


def test_initialization_options_are_what_the_server_accepts():
    options = load("initializationOptions.json")
    assert set(options) <= {"tasks", "status_notifications"}
    assert isinstance(options["status_notifications"], bool)
    parsed, problem = parse_client_options(options)
    assert problem is None
    assert parsed.status_notifications is options["status_notifications"]


def test_initialization_options_copy_no_task_list():
    """Without `tasks`, the server offers every task it has (a newer server's too)."""
    options = load("initializationOptions.json")
    assert "tasks" not in options
    parsed, _ = parse_client_options(options)
    assert [t.value for t in parsed.tasks] == TASKS


# --- the installer descriptor ------------------------------------------------


def _tasks(node: dict, path: str = ""):
    """Every task of an installer descriptor: (path, type, body). A task object has
    exactly one key, its type (InstallerTaskRegistry reads the first key)."""
    assert isinstance(node, dict) and len(node) == 1, f"{path}: a task object has exactly one key, its type"
    (kind, body), = node.items()
    assert kind in {"exec", "download", "configureServer"}, f"{path}: unknown task type {kind}"
    assert isinstance(body, dict) and isinstance(body.get("name"), str), f"{path}.{kind}: needs a name"
    yield path, kind, body
    for branch in ("onFail", "onSuccess"):
        if branch in body:
            yield from _tasks(body[branch], f"{path}.{kind}.{branch}")


def _os_values(command) -> list[str]:
    """A command is a string or an object of OS key -> string (getStringFromOs)."""
    if isinstance(command, str):
        return [command]
    assert isinstance(command, dict) and "default" in command and set(command) <= OS_KEYS
    assert all(isinstance(v, str) for v in command.values())
    return list(command.values())


def test_installer_descriptor_checks_the_command_and_never_installs_from_a_registry():
    installer = load("installer.json")
    assert set(installer) <= {"id", "name", "executeOnStartServer", "properties", "check", "run"}
    assert installer["name"] and isinstance(installer["executeOnStartServer"], bool)

    checks = list(_tasks(installer["check"], "check"))
    runs = list(_tasks(installer["run"], "run"))
    assert checks[0][1] == "exec"
    for command in _os_values(checks[0][2]["command"]):
        assert Path(command_words(command)[0]).stem == "assistant-router"
    # No package of that name is published: the run installs nothing, it says the one command to run.
    (run,) = [body for _, kind, body in runs if kind == "exec"]
    for command in _os_values(run["command"]):
        assert "pipx install" in command and "assistant-router  (your clone of the repository)" in command
        assert not re.search(r"install\s+(--\S+\s+)*assistant-router\b(?![/\\\w.-])", command), command
    said = subprocess.run(command_words(_os_values(run["command"])[-1]), capture_output=True, text=True, timeout=10)
    assert said.returncode == 1 and said.stderr.strip() == (
        "assistant-router is not on PATH: run  pipx install /path/to/assistant-router  (your clone of the "
        "repository), then Reinstall.")


def test_installer_check_passes_where_assistant_router_is_installed():
    """ExecTask counts a check as passed on exit code 0 and an empty stderr."""
    command = command_words(_os_values(load("installer.json")["check"]["exec"]["command"])[0])
    executable = shutil.which(command[0], path=VENV_PATH)
    assert executable, "the assistant-router console script is not installed"
    done = subprocess.run([executable, *command[1:]], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("assistant-router ")


# --- the real server, started as LSP4IJ would start it -------------------------


def make_client() -> LanguageClient:
    """pytest-lsp's client, with lsprotocol's CodeAction/Command parsing fixed."""
    client = LanguageClient(converter_factory=client_converter)
    register_lsp_features(client)
    return client


@pytest_asyncio.fixture
async def start_server(tmp_path: Path):
    """Factory: the template's command with the given initializationOptions."""
    clients: list[LanguageClient] = []
    project = tmp_path / "project"
    project.mkdir()
    (project / "geometry.py").write_text(SAMPLE)
    config = tmp_path / "config.toml"
    config.write_text(MOCK_USER_CONFIG)

    async def start(init_options) -> tuple[LanguageClient, str]:
        words = command_words(load("template.json")["programArgs"]["default"])
        executable = shutil.which(words[0], path=VENV_PATH)
        assert executable, "the assistant-router console script is not installed"
        server = ClientServerConfig(
            server_command=[executable, *words[1:]],
            server_env={**os.environ, "ASSISTANT_ROUTER_CONFIG": str(config), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                        "XDG_DATA_HOME": str(tmp_path / "data")},
            client_factory=make_client,
        )
        client = await server.start()
        clients.append(client)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=project.as_uri(),
                workspace_folders=[types.WorkspaceFolder(project.as_uri(), "project")],
                initialization_options=init_options,
            )
        )
        # LSP4IJ sends the settings (settings.json) after initialization.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=load("settings.json")))
        uri = (project / "geometry.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, SAMPLE)))
        return client, uri

    yield start
    for client in clients:
        await client.shutdown_session()


async def code_actions(client: LanguageClient, uri: str, diagnostics=()) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri),
            types.Range(types.Position(3, 0), types.Position(6, 0)),
            types.CodeActionContext(diagnostics=list(diagnostics)),
        )
    )
    return result or []


def task_of(action: types.CodeAction) -> str:
    return action.command.arguments[0]["task"]


async def test_server_accepts_the_templates_initialization_options(start_server):
    options = load("initializationOptions.json")
    client, uri = await start_server(options)
    plain = await code_actions(client, uri)
    problem = types.Diagnostic(
        types.Range(types.Position(4, 0), types.Position(4, 10)), "undefined name", source="lint"
    )
    with_problem = await code_actions(client, uri, [problem])

    assert client.messages == [], [m.message for m in client.messages]  # no "ignored part of initializationOptions"
    # Every task of the server's table; those that need diagnostics (fix, the quick fix) only on
    # a problem, the rest always (intentions).
    needs_diagnostics = {row["name"] for row in task_table() if row["needsDiagnostics"]}
    assert needs_diagnostics
    assert [task_of(a) for a in plain] == [t for t in TASKS if t not in needs_diagnostics]
    assert [task_of(a) for a in with_problem] == TASKS
    for action in with_problem:
        assert action.command.command == "assistant.run"
        if task_of(action) == "fix":
            assert action.kind == "quickfix"
        else:
            assert action.kind.startswith("refactor.") and action.kind.endswith(f".assistant.{task_of(action)}")
        assert "· codex (mock)" in action.title or "· opus (mock)" in action.title


async def test_a_narrower_task_list_is_honoured_and_a_bad_one_reported(start_server):
    """The same check, varied: the options really reach the server, and a bad value would show up."""
    narrow, uri = await start_server({**load("initializationOptions.json"), "tasks": ["review", "explain"]})
    assert [task_of(a) for a in await code_actions(narrow, uri)] == ["review", "explain"]
    assert narrow.messages == []

    bad, uri = await start_server({**load("initializationOptions.json"), "tasks": ["summarise"]})
    await code_actions(bad, uri)
    for _ in range(100):  # sent from the server's `initialized` handler; normally here already
        if bad.messages:
            break
        await asyncio.sleep(0.02)
    assert any("ignored part of initializationOptions" in m.message for m in bad.messages)
