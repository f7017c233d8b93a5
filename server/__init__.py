"""The language server: transport, features and result delivery."""
