"""The editor-free pipeline: one request context per run, context assembly,
privacy, model calling and usage; every front end (LSP, terminal, demo) calls it."""

# The single source of the version (pyproject.toml reads it): looking it up
# through importlib.metadata at start-up costs ~20 ms.
__version__ = "0.1.0"
