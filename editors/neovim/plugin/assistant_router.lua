-- Defines :AssistantAsk, :AssistantRoute, :AssistantRun and :AssistantCancel
-- (so lazy.nvim can load the plugin on these commands). Starting the server
-- is up to you: require("assistant_router").setup({...}), or on 0.11+
-- vim.lsp.enable("assistant_router").
if vim.g.loaded_assistant_router or vim.fn.has("nvim-0.7") == 0 then
  return
end
vim.g.loaded_assistant_router = 1

require("assistant_router.commands").create()
