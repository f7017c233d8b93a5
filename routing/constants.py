"""Names shared by the server and the CLI (kept free of heavy imports)."""

PROJECT_POLICY_FILENAME = ".assistant-router.toml"
CONFIG_ENV = "ASSISTANT_ROUTER_CONFIG"
