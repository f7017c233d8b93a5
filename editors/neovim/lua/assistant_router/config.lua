-- Options and the LSP client configuration built from them. Shared by
-- setup() and by lsp/assistant_router.lua (vim.lsp.config on 0.11+).
local compat = require("assistant_router.compat")
local state = require("assistant_router.state")

local M = {}

M.NAME = "assistant_router"

M.TASKS = { "scaffold", "test", "fix", "refactor", "debug", "review", "explain" }

M.defaults = {
  cmd = { "assistant-router", "serve" },
  filetypes = {
    "python",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "go",
    "rust",
    "java",
    "lua",
    "c",
    "cpp",
    "ruby",
    "sh",
    -- .assistant-router.toml: checked as you type
    "toml",
  },
  root_markers = { ".assistant-router.toml", ".git" },
  --- initializationOptions: {tasks = {...}, status_notifications = bool}
  init_options = nil,
  --- function(client, bufnr), called when the client attaches to a buffer
  on_attach = nil,
  --- merged into Neovim's client capabilities (e.g. from a completion plugin)
  capabilities = nil,
  --- environment for the server process, e.g. { ANTHROPIC_API_KEY = ... }
  cmd_env = nil,
  --- echo one short line for each progress update of a task
  echo_progress = true,
}

--- The options in effect (the defaults until setup() is called).
M.options = vim.deepcopy(M.defaults)

--- Lists replace the defaults; tables merge.
function M.resolve(opts)
  local resolved = vim.deepcopy(M.defaults)
  for key, value in pairs(opts or {}) do
    resolved[key] = value
  end
  return resolved
end

local LEVELS = {
  [1] = vim.log.levels.ERROR,
  [2] = vim.log.levels.WARN,
  [3] = vim.log.levels.INFO,
  [4] = vim.log.levels.DEBUG,
  [5] = vim.log.levels.DEBUG,
}

--- window/showMessage through vim.notify on every release (0.7 writes
--- errors with nvim_err_writeln and the rest to the message area).
local function show_message(_, params, _, _)
  local message = params and params.message or ""
  if not message:match("^assistant%-router") then
    message = "assistant-router: " .. message
  end
  vim.notify(message, LEVELS[params and params.type] or vim.log.levels.INFO)
  return vim.NIL
end

--- window/showDocument for releases without a handler (0.7): open the file
--- like later releases do (in the current window, or where it is already shown).
local function show_document(_, params, _, _)
  if params.external then
    return { success = false }
  end
  local fname = vim.uri_to_fname(params.uri)
  local ok = pcall(function()
    if params.takeFocus == false then
      local bufnr = vim.fn.bufadd(fname)
      vim.fn.bufload(bufnr)
      vim.bo[bufnr].buflisted = true
      return
    end
    local bufnr = vim.fn.bufnr(fname)
    local win = bufnr ~= -1 and vim.fn.bufwinid(bufnr) or -1
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    elseif not pcall(vim.cmd, "edit " .. vim.fn.fnameescape(fname)) then
      vim.cmd("split " .. vim.fn.fnameescape(fname)) -- the current buffer has unsaved changes
    end
    local selection = params.selection
    if selection and selection.start then
      pcall(vim.api.nvim_win_set_cursor, 0, { selection.start.line + 1, 0 })
    end
  end)
  return { success = ok }
end

function M.handlers()
  local handlers = {
    ["assistant/status"] = function(_, params, _, _)
      state.on_status(params)
    end,
    ["$/progress"] = function(err, result, ctx, config)
      state.on_progress(result, ctx)
      -- then Neovim's own handler (or a progress plugin's), which fires
      -- LspProgress (0.10+) / User LspProgressUpdate (0.7-0.9)
      local default = vim.lsp.handlers["$/progress"]
      if default then
        return default(err, result, ctx, config)
      end
    end,
    ["window/showMessage"] = show_message,
  }
  if not vim.lsp.handlers["window/showDocument"] then
    handlers["window/showDocument"] = show_document
  end
  return handlers
end

function M.capabilities(extra)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  if not vim.lsp.handlers["window/showDocument"] then
    -- 0.7 declares showDocument unsupported; our handler above supports it,
    -- so explanations open as Markdown buffers instead of long messages.
    capabilities.window = capabilities.window or {}
    capabilities.window.showDocument = { support = true }
  end
  return vim.tbl_deep_extend("force", capabilities, extra or {})
end

--- The client configuration: for vim.lsp.config() on 0.11+ (which reads
--- filetypes and root_markers), for vim.lsp.start_client() before.
function M.client_config(options)
  options = options or M.options
  local user_on_attach = options.on_attach
  return {
    name = M.NAME,
    cmd = options.cmd,
    cmd_env = options.cmd_env,
    filetypes = options.filetypes,
    root_markers = options.root_markers,
    init_options = options.init_options,
    capabilities = M.capabilities(options.capabilities),
    handlers = M.handlers(),
    on_attach = function(client, bufnr)
      if user_on_attach then
        user_on_attach(client, bufnr)
      end
    end,
    on_exit = function(_, _, client_id)
      state.forget_client(client_id)
    end,
  }
end

--- The tasks the server offers (init_options.tasks, or all).
function M.tasks(client)
  local init = client and client.config and compat.value(client.config.init_options)
  local tasks = type(init) == "table" and compat.value(init.tasks)
  if type(tasks) == "table" and #tasks > 0 then
    return tasks
  end
  return M.TASKS
end

return M
