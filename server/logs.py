"""Logging: stderr always, ``window/logMessage`` once a client is connected.

stdout is the LSP channel of ``serve``: nothing here ever writes to it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lsprotocol import types

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


def configure_stderr(level: str, log_file: Path | None = None) -> None:
    """stderr gets ``level`` and above; the editor's log (``window/logMessage``)
    always gets our INFO records too. Editors record a server's stderr as
    errors (Neovim's lsp.log does), so stderr stays quiet by default.
    ``log_file`` (``serve --log-file``) gets the same records as stderr,
    appended, for an editor that keeps no server log."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setLevel(level.upper())
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.WARNING)
    ours = logging.getLevelName(level.upper())
    logging.getLogger("assistant_router").setLevel(min(ours, logging.INFO))
    # The SDKs' and HTTP layer's debug logs can include request headers, i.e.
    # keys (their ANTHROPIC_LOG / OPENAI_LOG variables turn them on): keep them quiet.
    for noisy in ("anthropic", "openai", "httpx2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ClientLogHandler(logging.Handler):
    """Forwards our own records (not pygls's) to the client's log."""

    def __init__(self, ls) -> None:
        super().__init__(logging.INFO)
        self._ls = ls
        self._sending = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._sending:  # a failure while sending must not recurse
            return
        self._sending = True
        try:
            message_type = next((t for lvl, t in _LEVELS.items() if record.levelno >= lvl), types.MessageType.Log)
            self._ls.window_log_message(types.LogMessageParams(message_type, self.format(record)))
        except Exception:
            self.handleError(record)
        finally:
            self._sending = False


def attach_client_log(ls) -> ClientLogHandler:
    handler = ClientLogHandler(ls)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("assistant_router")
    for existing in [h for h in logger.handlers if isinstance(h, ClientLogHandler)]:
        logger.removeHandler(existing)
    logger.addHandler(handler)
    return handler
