"""The language server: transport, features and result delivery."""

# The single source of the version (pyproject.toml reads it): looking it up
# through importlib.metadata at start-up costs ~20 ms.
__version__ = "0.1.0"
