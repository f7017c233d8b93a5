"""The schema of a check command (``[[checks.commands]]`` in the user config):
pure data, here with the policy it belongs to; ``engine/checks/commands.py``
runs them. Running one is code execution, so only the user config (or a
project it lists in ``trusted_projects``) may set them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from assistant_router.routing.strict import StrictModel

Format = Literal["auto", "ruff", "mypy", "pyright", "gcc", "tsc", "go", "cargo-json", "eslint-json"]
MAX_TIMEOUT_S = 300.0


class CheckCommand(StrictModel):
    """One check command, as written in the user's configuration.

    ``command``: the program and its arguments. In the arguments after the
    program, ``{file}`` is replaced by the absolute path of the scratch copy
    of the edited file and ``{dir}`` by the absolute path of the scratch
    directory (the working directory of the run). ``languages``: the LSP
    language ids it applies to (``"*"``: every language).
    """

    name: str = Field(min_length=1)
    command: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=20.0, gt=0, le=MAX_TIMEOUT_S)
    format: Format = "auto"
    # "copy" in the configuration; BaseModel has a method of that name.
    copy_mode: Literal["file", "project"] = Field(default="file", alias="copy")

    @field_validator("command")
    @classmethod
    def _program_named(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the program (the first item) is empty")
        return value

    def applies_to(self, language: str) -> bool:
        return "*" in self.languages or language in self.languages
