-- The assistant-router configuration for vim.lsp.config() (Neovim 0.11+):
--
--   vim.lsp.enable("assistant_router")
--
-- Override any key with vim.lsp.config("assistant_router", { ... }), or call
-- require("assistant_router").setup({ ... }), which does both for you.
return require("assistant_router.config").client_config()
