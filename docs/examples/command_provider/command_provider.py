"""An assistant-router provider that runs a local command as the model.

The prompt goes to the command's stdin; whatever it prints is the answer,
streamed as it arrives. Useful for local model runners with a CLI
(``ollama run``, ``llm``, ``llama-cli``) and as a worked example of the
provider interface: options, preparation, streaming, cancellation and the
error classes.

    [models.local]
    provider = "command"
    model = "qwen2.5-coder"
    options = { argv = ["ollama", "run", "{model}"] }
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import math
import shutil
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pydantic import Field

from assistant_router.providers.base import (
    STOP_END,
    Completion,
    FatalProviderError,
    ModelRequest,
    Provider,
    RetryableProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)
from assistant_router.routing.strict import StrictModel

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig


class CommandOptions(StrictModel):
    """Validated when the policy loads: an unknown key or a bad value is
    reported on its line of the policy file."""

    argv: list[str] = Field(min_length=1, description="the command; {model} is replaced by the model ID")
    retry_exit_codes: list[int] = Field(default_factory=list, description="exit codes worth retrying")


class CommandProvider(Provider):
    Options = CommandOptions

    def __init__(self, config: ModelConfig) -> None:  # the resolved model alias
        super().__init__(config)
        self.options = CommandOptions.model_validate(config.options)

    async def prepare(self) -> None:
        """One-time checks, before the router starts the first-token clock."""
        if shutil.which(self.options.argv[0]) is None:
            raise FatalProviderError(
                f"command not found: {self.options.argv[0]} (options.argv of '{self.config.alias}')"
            )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        argv = [part.replace("{model}", request.model) for part in self.options.argv]
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        received = 0
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # chunks may split a character
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None  # PIPEs
        try:
            process.stdin.write(f"{request.system}\n\n{request.prompt}".encode())
            await process.stdin.drain()
            process.stdin.close()
            while chunk := await process.stdout.read(256):
                received += len(chunk)
                yield TextDelta(decoder.decode(chunk))
            code = await process.wait()
            if code != 0:
                error = (await process.stderr.read()).decode(errors="replace").strip()[:200]
                kind = RetryableProviderError if code in self.options.retry_exit_codes else FatalProviderError
                raise kind(f"{argv[0]} exited with {code}: {error}")
            yield Completion(Usage(math.ceil(len(request.prompt) / 4), math.ceil(received / 4)), STOP_END)
        finally:
            # Cancelled (or failed): stop the command at once, like closing an HTTP stream.
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
