"""The LSP adapter: composition root, protocol, the thin task runner and feature modules."""
