-- assistant-router for Neovim: starts `assistant-router serve` as a language
-- server for your file types. The AI tasks are code actions
-- (vim.lsp.buf.code_action()); results arrive as edits, diagnostics and
-- Markdown buffers; progress is ordinary LSP progress.
--
--   require("assistant_router").setup({ ... })
--
-- Neovim 0.11+: vim.lsp.config() + vim.lsp.enable() (lsp/assistant_router.lua
-- holds the defaults). Neovim 0.7-0.10: vim.lsp.start_client() and
-- vim.lsp.buf_attach_client() from a FileType autocommand, one client per root.
local commands = require("assistant_router.commands")
local compat = require("assistant_router.compat")
local config = require("assistant_router.config")
local inline = require("assistant_router.inline")
local state = require("assistant_router.state")

local M = {}

M.name = config.NAME

local INSTALL_HINT = "install it from your clone of the repository: `pipx install /path/to/assistant-router`"

-- ------------------------------------------------------------ 0.7 - 0.10

local clients_by_root = {} -- root (or "") → client id

local function find_root(bufnr, markers)
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == "" then
    return nil
  end
  local uv = vim.uv or vim.loop
  local dir = vim.fn.fnamemodify(path, ":p:h")
  while dir and dir ~= "" do
    for _, marker in ipairs(markers or {}) do
      if uv.fs_stat(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return nil -- no marker: no workspace folder, like root_markers on 0.11+
end

local function attach_legacy(bufnr, options)
  if vim.bo[bufnr].buftype ~= "" or vim.api.nvim_buf_get_name(bufnr) == "" then
    return
  end
  local root = find_root(bufnr, options.root_markers)
  local key = root or ""
  local id = clients_by_root[key]
  if id and compat.is_stopped(vim.lsp.get_client_by_id(id)) then
    id = nil
  end
  if not id then
    local client_config = config.client_config(options)
    client_config.filetypes, client_config.root_markers = nil, nil
    client_config.root_dir = root
    if root then
      client_config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
    end
    id = vim.lsp.start_client(client_config)
    if not id then
      return
    end
    clients_by_root[key] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
end

-- ------------------------------------------------------------------ echo

local function echo(text)
  local width = math.max(vim.v.echospace or 80, 20) - 1
  if vim.fn.strdisplaywidth(text) > width then
    text = vim.fn.strcharpart(text, 0, width - 1) .. "…"
  end
  vim.api.nvim_echo({ { text, "Comment" } }, false, {})
end

local function watch_progress(group)
  if compat.nvim_0_10 then
    vim.api.nvim_create_autocmd("LspProgress", {
      group = group,
      callback = function(event)
        local data = event.data or {}
        local client = data.client_id and vim.lsp.get_client_by_id(data.client_id)
        local value = data.params and data.params.value
        if not client or client.name ~= config.NAME or type(value) ~= "table" then
          return
        end
        local title = compat.value(value.title) or "assistant-router"
        local message = compat.value(value.message)
        echo(message and (title .. ": " .. message) or title)
      end,
    })
  else
    vim.api.nvim_create_autocmd("User", {
      group = group,
      pattern = "LspProgressUpdate",
      callback = function()
        local latest = state.latest
        local client = latest and vim.lsp.get_client_by_id(latest.client_id)
        local entry = client and client.name == config.NAME and compat.legacy_progress(latest.client_id, latest.token)
        if entry and entry.title then
          echo(entry.message and (entry.title .. ": " .. entry.message) or entry.title)
        end
      end,
    })
  end
end

-- ----------------------------------------------------------------- setup

--- Starts the server for `opts.filetypes`. Options: cmd, filetypes,
--- root_markers, init_options, on_attach, capabilities, cmd_env, echo_progress,
--- inline_completion.
--- Returns false (after a message) when the server cannot be started.
function M.setup(opts)
  if vim.fn.has("nvim-0.7") == 0 then
    vim.notify("assistant-router: Neovim 0.7 or newer is required", vim.log.levels.ERROR)
    return false
  end
  local options = config.resolve(opts)
  if options.inline_completion and not inline.module() then
    vim.notify(inline.UNSUPPORTED, vim.log.levels.WARN)
    options.inline_completion = false
  end
  config.options = options
  commands.create()
  local group = vim.api.nvim_create_augroup("assistant_router", { clear = true })
  if options.echo_progress then
    watch_progress(group)
  end

  local executable = type(options.cmd) == "table" and options.cmd[1] or nil
  if executable and vim.fn.executable(executable) == 0 then
    vim.notify(
      string.format(
        "assistant-router: `%s` was not found on your PATH; %s, then restart Neovim (or set `cmd` in setup())",
        executable,
        INSTALL_HINT
      ),
      vim.log.levels.ERROR
    )
    return false
  end

  if compat.nvim_0_11 then
    vim.lsp.config(config.NAME, config.client_config(options))
    vim.lsp.enable(config.NAME)
    return true
  end

  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = options.filetypes,
    callback = function(event)
      attach_legacy(event.buf, options)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(options.filetypes, vim.bo[bufnr].filetype) then
      attach_legacy(bufnr, options)
    end
  end
  return true
end

-- ------------------------------------------------------------ public API

--- For the statusline: the task running now, or the model that handled the
--- last request and its outcome ("opus (claude-opus-4-6) · review shown").
function M.statusline()
  return state.statusline()
end

--- The last `assistant/status` notification as a table (nil before any task).
function M.last_status()
  return state.last
end

--- The tasks running now: a list of {client_id, token, title, message}.
function M.running()
  local list = {}
  for client_id, tasks in pairs(state.running) do
    for token, task in pairs(tasks) do
      table.insert(list, { client_id = client_id, token = token, title = task.title, message = task.message })
    end
  end
  return list
end

--- The server's task table, for the client of `bufnr` (default: the current
--- buffer): rows {name, title, verb, delivery, placement, result,
--- codeActionKind, needsDiagnostics, emptySelection} in the server's order.
--- nil without a client, or from a server that sends no table.
function M.task_table(bufnr)
  local client = commands.client(bufnr or vim.api.nvim_get_current_buf(), true)
  local rows = client and config.task_table(client)
  return rows and vim.deepcopy(rows) or nil
end

--- The assistant-router clients (of `bufnr`, if given).
function M.clients(bufnr)
  return compat.get_clients(config.NAME, bufnr)
end

M.ask = commands.ask
M.route = commands.route
M.run = commands.run
M.cancel = commands.cancel

return M
