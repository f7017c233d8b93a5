-- :AssistantAsk, :AssistantRoute, :AssistantRun and :AssistantCancel.
--
-- Each talks to the server with workspace/executeCommand (assistant.ask,
-- assistant.route, assistant.run: all advertised in executeCommandProvider,
-- which Neovim 0.11+ requires) and reports through vim.notify. The AI tasks
-- themselves are also in the ordinary code-action menu (vim.lsp.buf.code_action()).
-- Task names, their completion and what a bare cursor means for each come
-- from the server's task table (config.task_table), never from a list here.
local compat = require("assistant_router.compat")
local config = require("assistant_router.config")
local state = require("assistant_router.state")

local M = {}

local function notify(message, level)
  vim.notify("assistant-router: " .. message, level or vim.log.levels.INFO)
end

--- The attached assistant-router client of `bufnr`, or nil (with a message).
--- Waits for a client that is still starting (right after the file opened).
function M.client(bufnr, quiet)
  local client = compat.get_clients(config.NAME, bufnr)[1]
  if not client and config.expects_client(bufnr) then
    vim.wait(config.WAIT_MS, function()
      client = compat.get_clients(config.NAME, bufnr)[1]
      return client ~= nil
    end, 10)
  end
  if not client and not quiet then
    notify(
      "no assistant-router client is attached to this buffer (see :help lsp, and require('assistant_router').setup())",
      vim.log.levels.WARN
    )
  end
  return client
end

local function line_text(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

local function position(bufnr, row, byte, encoding)
  return { line = row, character = compat.char_index(line_text(bufnr, row), byte, encoding) }
end

--- The LSP range a command works on. `opts` is the user command's argument
--- table (range/line1/line2). With a visual selection: the characters
--- selected (charwise) or the whole lines; with a line range: those lines;
--- without: the cursor (`at_cursor`) or the cursor's whole line.
function M.target_range(bufnr, opts, client, at_cursor)
  local encoding = compat.encoding(client)
  if opts and opts.range and opts.range > 0 then
    local first, last = opts.line1, opts.line2
    local from = vim.api.nvim_buf_get_mark(bufnr, "<")
    local to = vim.api.nvim_buf_get_mark(bufnr, ">")
    if vim.fn.visualmode() == "v" and from[1] == first and to[1] == last then
      local text = line_text(bufnr, last - 1)
      local stop = to[2]
      if vim.o.selection ~= "exclusive" then
        -- the last selected character is included: end after it
        local char = text:sub(stop + 1):match("^[%z\1-\127\194-\244][\128-\191]*") or ""
        stop = stop + #char
      end
      return {
        start = position(bufnr, first - 1, from[2], encoding),
        ["end"] = position(bufnr, last - 1, stop, encoding),
      }
    end
    return {
      start = { line = first - 1, character = 0 },
      ["end"] = position(bufnr, last - 1, #line_text(bufnr, last - 1), encoding),
    }
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row = cursor[1] - 1
  if at_cursor then
    local here = position(bufnr, row, cursor[2], encoding)
    return { start = here, ["end"] = here }
  end
  return { start = { line = row, character = 0 }, ["end"] = position(bufnr, row, #line_text(bufnr, row), encoding) }
end

--- The current buffer, its client, the range a command works on and the
--- buffer's URI; nothing (after telling the user) when no client serves it.
local function current(opts, at_cursor)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return nil
  end
  return bufnr, client, M.target_range(bufnr, opts, client, at_cursor), vim.uri_from_bufnr(bufnr)
end

--- Diagnostics in the range, in the shape the commands take.
local function diagnostics_in(bufnr, range)
  local found = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(bufnr)) do
    if diagnostic.lnum >= range.start.line and diagnostic.lnum <= range["end"].line then
      table.insert(found, { message = diagnostic.message, line = diagnostic.lnum, source = diagnostic.source })
    end
  end
  return found
end

local function lines_label(range)
  local first, last = range.start.line + 1, range["end"].line + 1
  if range["end"].character == 0 and last > first then
    last = last - 1
  end
  return first == last and ("line " .. first) or string.format("lines %d-%d", first, last)
end

local function model_label(data)
  return string.format("%s (%s)", compat.value(data.alias) or "?", compat.value(data.model) or "?")
end

--- Sends `command` with its one argument; calls on_result(result, client).
--- Returns the request id.
function M.execute(bufnr, command, argument, on_result)
  local client = M.client(bufnr)
  if not client then
    return nil
  end
  if not compat.advertises(client, command) then
    notify("the server does not offer " .. command .. "; is assistant-router up to date?", vim.log.levels.ERROR)
    return nil
  end
  local params = { command = command, arguments = { argument } }
  local ok, id = compat.request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      notify(string.format("%s failed: %s", command, err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result or {}, client)
    end
  end, bufnr)
  if not ok then
    notify("could not send " .. command .. " (the server has stopped?)", vim.log.levels.ERROR)
    return nil
  end
  return id
end

--- The server's task table for `client`, or nil (after telling the user).
local function task_table(client)
  local rows = config.task_table(client)
  if not rows then
    notify("the server sent no task list; is assistant-router up to date?", vim.log.levels.ERROR)
  end
  return rows
end

-- --------------------------------------------------------------------- route

local function format_route(result, range)
  local chain = {}
  for _, model in ipairs(compat.value(result.chain) or {}) do
    table.insert(chain, model_label(model))
  end
  return string.format(
    "%s (%s) → %s\nreason: %s",
    result.task or "?",
    lines_label(range),
    table.concat(chain, ", then "),
    compat.value(result.reason) or "?"
  )
end

--- :AssistantRoute [task | request]: which model would take the task for
--- the current line or selection, and why. Without an argument, every
--- offered task; with words that are not a task name, the request is
--- classified first.
function M.route(opts)
  opts = opts or {}
  local bufnr, client, range, uri = current(opts, false)
  if not bufnr then
    return
  end
  if not task_table(client) then
    return
  end
  local args = vim.trim(opts.args or "")
  if args ~= "" then
    local argument = { uri = uri, range = range }
    if config.task(client, args) then
      argument.task = args
    else
      argument.prompt = args
    end
    M.execute(bufnr, "assistant.route", argument, function(result)
      local text = format_route(result, range)
      local classification = compat.value(result.classification)
      if classification then
        text = string.format(
          "“%s” reads as %s (confidence %.2f: %s)\n",
          args,
          classification.task,
          tonumber(compat.value(classification.confidence)) or 0,
          compat.value(classification.reason) or ""
        ) .. text
      end
      notify(text)
    end)
    return
  end
  local tasks = config.tasks(client)
  local results, pending = {}, #tasks
  for _, task in ipairs(tasks) do
    local sent = M.execute(bufnr, "assistant.route", { task = task, uri = uri, range = range }, function(result)
      results[task] = result
      pending = pending - 1
      if pending == 0 then
        local lines = { "routes for " .. lines_label(range) .. ":" }
        for _, name in ipairs(tasks) do
          local r = results[name]
          table.insert(
            lines,
            string.format("%-9s → %s: %s", name, model_label(r), compat.value(r.reason) or "?")
          )
        end
        notify(table.concat(lines, "\n"))
      end
    end)
    if not sent then
      return
    end
  end
end

-- ----------------------------------------------------------------------- ask

--- :AssistantAsk [request]: asks for the request with vim.ui.input (unless
--- given), then assistant.ask classifies it (asking you to choose with
--- window/showMessageRequest when unsure) and runs the task.
function M.ask(opts)
  opts = opts or {}
  -- Taken now: an input UI may move the cursor or focus.
  local bufnr, client, range, uri = current(opts, true)
  if not bufnr then
    return
  end
  local function send(prompt)
    if not prompt or vim.trim(prompt) == "" then
      return
    end
    local argument = { uri = uri, range = range, prompt = prompt, diagnostics = diagnostics_in(bufnr, range) }
    M.execute(bufnr, "assistant.ask", argument, function(result)
      local classification = compat.value(result.classification) or {}
      local status = compat.value(result.status) or "?"
      local level = (status == "failed" or status == "refused" or status == "held") and vim.log.levels.WARN
        or vim.log.levels.INFO
      local how = compat.value(classification.chosen_by) == "user" and "you chose" or "read as"
      local text
      if compat.value(result.task) then
        text = string.format(
          "“%s” %s %s → %s: %s",
          prompt,
          how,
          result.task,
          model_label(result),
          status
        )
      else
        text = string.format("“%s”: %s", prompt, compat.value(result.message) or status)
      end
      if compat.value(result.message) and compat.value(result.task) then
        text = text .. " (" .. result.message .. ")"
      end
      notify(text, level)
    end)
  end
  local given = vim.trim(opts.args or "")
  if given ~= "" then
    send(given)
  else
    vim.ui.input({ prompt = "Ask assistant-router: " }, send)
  end
end

-- ----------------------------------------------------------------------- run

--- :AssistantRun {task} [instructions]: runs a task on the selection (or the
--- line; at the cursor for a task whose row says so: scaffold) without going
--- through the code-action menu.
function M.run(opts)
  opts = opts or {}
  local words = vim.split(vim.trim(opts.args or ""), "%s+")
  local task = words[1]
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client or not task_table(client) then
    return
  end
  local row = config.task(client, task)
  if not row then
    notify(
      "usage: :AssistantRun {" .. table.concat(config.task_names(client), "|") .. "} [instructions]",
      vim.log.levels.ERROR
    )
    return
  end
  local range = M.target_range(bufnr, opts, client, row.emptySelection == "cursor")
  local uri = vim.uri_from_bufnr(bufnr)
  local argument = { task = task, uri = uri, range = range }
  local prompt = table.concat(words, " ", 2)
  if prompt ~= "" then
    argument.prompt = prompt
  end
  local diagnostics = diagnostics_in(bufnr, range)
  if #diagnostics > 0 then
    argument.diagnostics = diagnostics
  end
  return M.execute(bufnr, "assistant.run", argument, opts.on_result)
end

-- -------------------------------------------------------------------- cancel

--- :AssistantCancel: cancels the running tasks. Through their work-done
--- progress (window/workDoneProgress/cancel: the task ends as "cancelled"),
--- or, before any progress began, by cancelling the request ($/cancelRequest).
function M.cancel()
  local count = 0
  for _, client in ipairs(compat.get_clients(config.NAME)) do
    local tokens = state.tokens(client.id)
    for _, token in ipairs(tokens) do
      compat.notify(client, "window/workDoneProgress/cancel", { token = token })
      count = count + 1
    end
    if #tokens == 0 then
      for id, request in pairs(client.requests or {}) do
        if request.type == "pending" and request.method == "workspace/executeCommand" then
          compat.cancel_request(client, id)
          count = count + 1
        end
      end
    end
  end
  if count == 0 then
    notify("no task is running")
  end
  return count
end

-- ------------------------------------------------------------------ commands

--- Completion of task names: the server's, for the current buffer's client.
local function complete_tasks(lead)
  local client = M.client(vim.api.nvim_get_current_buf(), true)
  return vim.tbl_filter(function(task)
    return task:sub(1, #lead) == lead
  end, config.task_names(client))
end

function M.create()
  local create = vim.api.nvim_create_user_command
  create("AssistantAsk", function(opts)
    M.ask(opts)
  end, { nargs = "*", range = true, desc = "assistant-router: ask for something about the selection" })
  create("AssistantRoute", function(opts)
    M.route(opts)
  end, {
    nargs = "*",
    range = true,
    complete = complete_tasks,
    desc = "assistant-router: which model takes a task here, and why",
  })
  create("AssistantRun", function(opts)
    M.run(opts)
  end, { nargs = "+", range = true, complete = complete_tasks, desc = "assistant-router: run a task" })
  create("AssistantCancel", function()
    M.cancel()
  end, { nargs = 0, desc = "assistant-router: cancel the running tasks" })
end

return M
