-- What the statusline shows: the tasks running now (from the standard
-- $/progress notifications) and the outcome of the last one (from the
-- server's `assistant/status` notification).
local compat = require("assistant_router.compat")

local M = {
  --- The last `assistant/status` params: {task, alias, provider, model, status, fallback, usage, elapsed_ms, message}.
  last = nil,
  --- running[client_id][token] = {title, message}
  running = {},
  --- the last progress update: {client_id, token}
  latest = nil,
}

local function redraw()
  -- A statusline component is only as fresh as the last redraw.
  pcall(vim.cmd, "redrawstatus!")
end

local function clean(params)
  local out = {}
  for key, value in pairs(params or {}) do
    out[key] = compat.value(value)
  end
  if type(out.usage) == "table" then
    local usage = {}
    for key, value in pairs(out.usage) do
      usage[key] = compat.value(value)
    end
    out.usage = usage
  end
  return out
end

--- Called for every `$/progress` of our clients, before Neovim's own handler.
function M.on_progress(result, ctx)
  local value = result and result.value
  if type(value) ~= "table" or result.token == nil then
    return
  end
  M.latest = { client_id = ctx.client_id, token = result.token }
  local tasks = M.running[ctx.client_id] or {}
  M.running[ctx.client_id] = tasks
  if value.kind == "begin" then
    tasks[result.token] = { title = compat.value(value.title), message = compat.value(value.message) }
  elseif value.kind == "report" and tasks[result.token] then
    tasks[result.token].message = compat.value(value.message)
  elseif value.kind == "end" then
    tasks[result.token] = nil
  end
  redraw()
end

--- Called for `assistant/status`.
function M.on_status(params)
  local status = clean(params)
  M.last = status
  redraw()
  if vim.fn.exists("#User#AssistantRouterStatus") == 1 then
    pcall(vim.cmd, "doautocmd <nomodeline> User AssistantRouterStatus")
  end
  if status.status == "cancelled" then
    vim.notify(
      string.format("assistant-router: %s cancelled; nothing was applied", status.task or "task"),
      vim.log.levels.INFO
    )
  end
end

function M.forget_client(client_id)
  M.running[client_id] = nil
  redraw()
end

--- Progress tokens of a client's running tasks.
function M.tokens(client_id)
  local tokens = {}
  for token in pairs(M.running[client_id] or {}) do
    table.insert(tokens, token)
  end
  return tokens
end

local function first_running()
  local ids = {}
  for id in pairs(M.running) do
    table.insert(ids, id)
  end
  table.sort(ids)
  for _, id in ipairs(ids) do
    for _, task in pairs(M.running[id]) do
      return task
    end
  end
  return nil
end

--- "Review · opus (claude-opus-4-6) …" while a task runs; afterwards
--- "opus (claude-opus-4-6) · review shown" (", fallback" when the chain's
--- next model answered); "" before the first task.
function M.statusline()
  local task = first_running()
  if task then
    return (((task.title or "assistant-router") .. " …"):gsub("%%", "%%%%"))
  end
  local last = M.last
  if not last then
    return ""
  end
  local who = last.alias and string.format("%s (%s)", last.alias, last.model or "?") or "assistant-router"
  local text = string.format("%s · %s %s", who, last.task or "task", last.status or "?")
  if last.fallback then
    text = text .. ", fallback"
  end
  return (text:gsub("%%", "%%%%")) -- a literal % in 'statusline'
end

return M
