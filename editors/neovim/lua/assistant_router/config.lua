-- Options and the LSP client configuration built from them. Shared by
-- setup() and by lsp/assistant_router.lua (vim.lsp.config on 0.11+).
local compat = require("assistant_router.compat")
local state = require("assistant_router.state")

local M = {}

M.NAME = "assistant_router"

--- The server's command that answers with its task table.
M.TASKS_COMMAND = "assistant.tasks"

--- How long a command (or a completion) waits for a client that is still
--- starting, and for the server's task table.
M.WAIT_MS = 5000

--- Set once a client configuration has been made (setup(), or vim.lsp.config
--- reading lsp/assistant_router.lua): from then on, a buffer of our file
--- types without a client is one whose client is on its way.
M.configured = false

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
  --- ghost text from the server's inline completions (Neovim 0.12+: vim.lsp.inline_completion)
  inline_completion = false,
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

--- window/showDocument, on every release: the server shows documents it wrote
--- (explanations, debug notes), so they open in a split beside the code they
--- are about (or where they are already shown), never in place of it; Neovim's
--- own handler (0.8+) would replace the current window, and 0.7 has none.
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
    else
      vim.cmd("split " .. vim.fn.fnameescape(fname))
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
    ["window/showDocument"] = show_document,
  }
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
  M.configured = true
  local user_on_attach = options.on_attach
  local inline_completion = options.inline_completion == true
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
      if inline_completion then
        require("assistant_router.inline").attach(client, bufnr)
      end
      if user_on_attach then
        user_on_attach(client, bufnr)
      end
    end,
    on_exit = function(_, _, client_id)
      M.forget_task_table(client_id)
      state.forget_client(client_id)
    end,
  }
end

-- ------------------------------------------------------------ the tasks
--
-- The plugin has no list of tasks: the server sends its table in the
-- initialize result (capabilities.experimental.assistantRouter.tasks) and
-- answers assistant.tasks with it. Each row: name, title, verb, delivery,
-- placement, result, codeActionKind, needsDiagnostics, emptySelection.

local task_tables = {} -- client id → rows

local function clean_rows(raw)
  raw = compat.value(raw)
  if type(raw) ~= "table" then
    return nil
  end
  local rows, seen = {}, {}
  for _, item in ipairs(raw) do
    item = compat.value(item)
    local name = type(item) == "table" and compat.value(item.name) or nil
    if type(name) == "string" and name ~= "" and not seen[name] then
      seen[name] = true
      local row = {}
      for key, value in pairs(item) do
        row[key] = compat.value(value)
      end
      row.title = type(row.title) == "string" and row.title ~= "" and row.title or name
      table.insert(rows, row)
    end
  end
  return #rows > 0 and rows or nil
end

local function from_capabilities(client)
  local caps = compat.value(client.server_capabilities)
  local experimental = type(caps) == "table" and compat.value(caps.experimental) or nil
  local ours = type(experimental) == "table" and compat.value(experimental.assistantRouter) or nil
  return type(ours) == "table" and clean_rows(ours.tasks) or nil
end

--- Whether a client is expected for `bufnr`: a file of the configured file types.
function M.expects_client(bufnr)
  if not M.configured or vim.api.nvim_buf_get_name(bufnr) == "" or vim.bo[bufnr].buftype ~= "" then
    return false
  end
  local filetypes = M.options.filetypes
  if compat.nvim_0_11 then
    local ok, resolved = pcall(function()
      return vim.lsp.config[M.NAME]
    end)
    if ok and type(resolved) == "table" and type(resolved.filetypes) == "table" then
      filetypes = resolved.filetypes
    end
  end
  return vim.tbl_contains(filetypes or {}, vim.bo[bufnr].filetype)
end

local function initialized(client)
  return client.initialized == true and client.server_capabilities ~= nil
end

--- The server's task table for `client`, in the server's order: from its
--- initialize result, else from its assistant.tasks command. Waits (up to
--- `timeout_ms`, default M.WAIT_MS) for a client that has not finished
--- initializing. nil when the server sends none.
function M.task_table(client, timeout_ms)
  if not client then
    return nil
  end
  if task_tables[client.id] then
    return task_tables[client.id]
  end
  local timeout = timeout_ms or M.WAIT_MS
  if not initialized(client) then
    vim.wait(timeout, function()
      return initialized(client) or compat.is_stopped(client)
    end, 10)
    if not initialized(client) then
      return nil
    end
  end
  local rows = from_capabilities(client)
  if not rows then
    local response = compat.request_sync(client, "workspace/executeCommand", { command = M.TASKS_COMMAND }, timeout)
    local result = response and compat.value(response.result)
    rows = type(result) == "table" and clean_rows(result.tasks) or nil
  end
  task_tables[client.id] = rows
  return rows
end

function M.forget_task_table(client_id)
  task_tables[client_id] = nil
end

--- The row of task `name` in the server's table, or nil.
function M.task(client, name)
  for _, row in ipairs(M.task_table(client) or {}) do
    if row.name == name then
      return row
    end
  end
  return nil
end

--- Every task name of the server's table.
function M.task_names(client)
  local names = {}
  for _, row in ipairs(M.task_table(client) or {}) do
    table.insert(names, row.name)
  end
  return names
end

--- The tasks the server offers as code actions: those in init_options.tasks
--- that it has (in that order), or every task of its table.
function M.tasks(client)
  local all = M.task_names(client)
  local init = client and client.config and compat.value(client.config.init_options)
  local wanted = type(init) == "table" and compat.value(init.tasks)
  if type(wanted) ~= "table" or #wanted == 0 then
    return all
  end
  local offered = {}
  for _, name in ipairs(wanted) do
    if vim.tbl_contains(all, name) and not vim.tbl_contains(offered, name) then
      table.insert(offered, name)
    end
  end
  return #offered > 0 and offered or all -- nothing it has: the server offers every task
end

return M
