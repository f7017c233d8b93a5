-- Inline completion (ghost text) from the server's textDocument/inlineCompletion
-- (LSP 3.18), through Neovim's own client: vim.lsp.inline_completion, which
-- Neovim 0.12 added. Opt-in with setup({ inline_completion = true }).
--
-- Neovim shows the item as virtual text (highlight ComplHint) and sends the
-- requests itself (Automatic, 200 ms after InsertEnter / CursorMovedI /
-- TextChangedP); accepting it with vim.lsp.inline_completion.get() inserts
-- the text and runs the item's command (assistant.inlineCompletionAccepted)
-- through client:exec_cmd(). The plugin only turns it on for its own client.
local M = {}

--- Neovim's module, or nil before 0.12.
function M.module()
  local ok, module = pcall(function()
    return vim.lsp.inline_completion
  end)
  if ok and type(module) == "table" and type(module.enable) == "function" then
    return module
  end
  return nil
end

M.UNSUPPORTED = "assistant-router: inline_completion needs Neovim 0.12 or newer (vim.lsp.inline_completion); "
  .. "this Neovim has none, so the option is ignored"

--- Turns inline completion on for `client` (called from the client's on_attach).
--- Scheduled: the buffer counts as the client's only after on_attach returns.
function M.attach(client, bufnr)
  local module = M.module()
  if not module then
    return
  end
  vim.schedule(function()
    if not vim.api.nvim_buf_is_valid(bufnr) or client:is_stopped() then
      return
    end
    if module.is_enabled({ bufnr = bufnr }) then
      return -- enabled for the buffer already (by you, or for every buffer): Neovim attaches each client
    end
    -- Only this client: any other server's inline completion stays as you set it.
    module.enable(true, { client_id = client.id })
  end)
end

return M
