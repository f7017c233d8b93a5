-- Headless test driver: sets the plugin up through its public setup(), opens
-- a file, plays one scenario and writes what it saw as JSON to $AR_RESULT.
--
--   nvim --headless -u NONE -i NONE -n --cmd "set rtp+=editors/neovim" \
--        -c "luafile editors/neovim/tests/driver.lua"
--
-- Environment: AR_SCENARIO (see SCENARIOS below), AR_FILE (the file to
-- open), AR_RESULT (where to write the JSON), AR_POLICY (scenario "policy":
-- the policy file), AR_CMD (scenario "fake_tasks": the server command, as a
-- JSON list), AR_LINE and AR_SECOND (scenario "inline": the line to
-- complete, a second file), AR_TIMEOUT_MS. Exits 0 after writing the
-- result, or writes {"error": ...} and exits with :cquit 1 (an error or a
-- timeout).
local scenario = assert(os.getenv("AR_SCENARIO"), "AR_SCENARIO")
local result_path = assert(os.getenv("AR_RESULT"), "AR_RESULT")
local file = os.getenv("AR_FILE")
local TIMEOUT = tonumber(os.getenv("AR_TIMEOUT_MS") or "") or 20000

local modern = vim.fn.has("nvim-0.10") == 1
local out = { scenario = scenario, notifications = {}, progress = {} }

-- Everything the plugin (and Neovim) says through vim.notify.
vim.notify = function(message, level)
  table.insert(out.notifications, { message = tostring(message), level = level or vim.log.levels.INFO })
end

-- The plugin's one-line progress echo.
out.echoed = {}
vim.api.nvim_echo = function(chunks, _, _)
  local text = {}
  for _, chunk in ipairs(chunks) do
    table.insert(text, chunk[1])
  end
  table.insert(out.echoed, table.concat(text))
end

local function write(data)
  local handle = assert(io.open(result_path, "w"))
  handle:write(vim.json.encode(data))
  handle:close()
end

local function wait(what, predicate, timeout)
  if not vim.wait(timeout or TIMEOUT, predicate, 20) then
    error("timed out waiting for " .. what, 2)
  end
end

local function notified(pattern, level)
  for _, n in ipairs(out.notifications) do
    if n.message:find(pattern) and (level == nil or n.level == level) then
      return n
    end
  end
  return nil
end

local ar = require("assistant_router")

-- Progress as Neovim's standard events expose it: LspProgress (0.10+) or
-- User LspProgressUpdate with the client's progress table (0.7-0.9).
if modern then
  vim.api.nvim_create_autocmd("LspProgress", {
    callback = function(event)
      local value = event.data.params.value
      local client = vim.lsp.get_client_by_id(event.data.client_id)
      table.insert(out.progress, {
        client = client and client.name,
        kind = value.kind,
        title = value.title,
        message = value.message ~= vim.NIL and value.message or nil,
      })
    end,
  })
else
  vim.api.nvim_create_autocmd("User", {
    pattern = "LspProgressUpdate",
    callback = function()
      for _, client in ipairs(vim.lsp.get_active_clients()) do
        for _, entry in pairs(client.messages.progress) do
          if entry.title then
            table.insert(out.progress, {
              client = client.name,
              kind = entry.done and "end" or "report",
              title = entry.title,
              message = entry.message,
            })
          end
        end
      end
    end,
  })
end

local function text_of(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end

local function open(path)
  vim.cmd("filetype on")
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  return vim.api.nvim_get_current_buf()
end

local function attached(bufnr)
  wait("the client to attach and initialize", function()
    local client = ar.clients(bufnr)[1]
    return client ~= nil and client.initialized == true and client.server_capabilities ~= nil
  end)
  local client = ar.clients(bufnr)[1]
  out.client = { name = client.name, encoding = client.offset_encoding }
  return client
end

-- A charwise visual selection of whole lines, first..last (1-based).
local function select_lines(first, last)
  vim.cmd("normal! " .. first .. "G0v" .. last .. "Gg_\27")
end

--- Opens the code-action menu over lines first..last (or, with `at_cursor`,
--- at the cursor with no selection) with vim.ui.select stubbed: records every
--- item, picks the first whose title `choose` accepts.
local function code_actions(first, last, choose, at_cursor)
  if not at_cursor then
    select_lines(first, last)
  end
  local listed, done = {}, false
  vim.ui.select = function(items, _, on_choice)
    local chosen, index
    for i, item in ipairs(items) do
      local action = item.action or item[2] -- 0.10+: {action=, ctx=}; 0.7: {client_id, action}
      table.insert(listed, {
        title = action.title,
        kind = action.kind,
        command = action.command and action.command.command,
        argument = action.command and action.command.arguments and action.command.arguments[1],
      })
      if choose and not chosen and choose(action.title) then
        chosen, index = item, i
      end
    end
    done = true
    on_choice(chosen, index)
  end
  if at_cursor then
    vim.lsp.buf.code_action()
  elseif vim.fn.has("nvim-0.8") == 1 then
    vim.lsp.buf.code_action({
      range = { start = vim.api.nvim_buf_get_mark(0, "<"), ["end"] = vim.api.nvim_buf_get_mark(0, ">") },
    })
  else
    vim.lsp.buf.range_code_action()
  end
  wait("the code-action menu", function()
    return done
  end)
  return listed
end

local function starts_with(prefix)
  return function(title)
    return title:sub(1, #prefix) == prefix
  end
end

local function our_diagnostics(bufnr)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == "assistant-router" then
      table.insert(found, { lnum = d.lnum, end_lnum = d.end_lnum, message = d.message, severity = d.severity })
    end
  end
  table.sort(found, function(a, b)
    return a.lnum < b.lnum
  end)
  return found
end

local function wait_status(task)
  wait("assistant/status for " .. task, function()
    local last = ar.last_status()
    return last ~= nil and last.task == task
  end)
  out.status = ar.last_status()
  out.statusline = ar.statusline()
end

local SCENARIOS = {}

function SCENARIOS.code_actions()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  out.actions = code_actions(4, 6, nil)
  out.text = text_of(bufnr)
end

function SCENARIOS.review()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  out.statusline_before = ar.statusline()
  out.actions = code_actions(4, 6, starts_with("Review selection"))
  wait("review diagnostics", function()
    return #our_diagnostics(bufnr) > 0
  end)
  wait_status("review")
  out.diagnostics = our_diagnostics(bufnr)
end

function SCENARIOS.scaffold()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  out.before = text_of(bufnr)
  out.actions = code_actions(4, 6, starts_with("Scaffold code for selection"))
  wait_status("scaffold")
  out.text = text_of(bufnr)
  out.modified = vim.bo[bufnr].modified
end

function SCENARIOS.scaffold_at_cursor()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  -- Column 0 of the line "    # TODO: validate radius", no selection.
  local line = vim.fn.search("# TODO: validate radius")
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  out.actions = code_actions(line, line, starts_with("Scaffold code for line"), true)
  wait_status("scaffold")
  out.text = text_of(bufnr)
end

function SCENARIOS.cancel()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  out.before = text_of(bufnr)
  out.actions = code_actions(4, 6, starts_with("Scaffold code for selection"))
  -- Cancel mid-stream: once the progress reports tokens received.
  wait("the task's progress", function()
    local running = ar.running()[1]
    return running ~= nil and (running.message or ""):find("received") ~= nil
  end)
  out.running = ar.running()
  out.statusline_running = ar.statusline()
  vim.cmd("AssistantCancel")
  wait_status("scaffold")
  -- The slow stream would have finished in seconds: give a late edit time to land.
  vim.wait(700, function()
    return false
  end)
  out.text = text_of(bufnr)
  out.modified = vim.bo[bufnr].modified
  out.running_after = #ar.running()
end

function SCENARIOS.run_command()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  out.before = text_of(bufnr)
  vim.cmd("AssistantCancel")
  out.cancel_idle = vim.deepcopy(out.notifications)
  vim.cmd("4,6AssistantRun test")
  wait_status("test")
  out.text = text_of(bufnr)
end

function SCENARIOS.policy()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  local policy = assert(os.getenv("AR_POLICY"), "AR_POLICY")
  wait("the policy error message", function()
    return notified("assistant%-router", vim.log.levels.ERROR) ~= nil
  end)
  local policy_buf
  wait("diagnostics on the policy file", function()
    policy_buf = vim.fn.bufnr(policy)
    return policy_buf ~= -1 and #vim.diagnostic.get(policy_buf) > 0
  end)
  out.policy_diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(policy_buf)) do
    table.insert(out.policy_diagnostics, { lnum = d.lnum, message = d.message, source = d.source, severity = d.severity })
  end
  -- Still serving: code actions come back.
  out.actions = code_actions(4, 6, nil)
end

function SCENARIOS.route()
  ar.setup({ init_options = { tasks = { "scaffold", "review", "explain" } } })
  local bufnr = open(file)
  attached(bufnr)
  out.actions = code_actions(4, 6, nil)
  vim.cmd("4,6AssistantRoute review")
  wait("the route of review", function()
    return notified("reason:") ~= nil
  end)
  vim.api.nvim_win_set_cursor(0, { 10, 4 })
  vim.cmd("AssistantRoute")
  wait("the routes of every task", function()
    return notified("routes for line 10") ~= nil
  end)
  vim.cmd("4,6AssistantRoute is this thread safe?")
  wait("the route of a request", function()
    return notified("reads as") ~= nil
  end)
end

function SCENARIOS.ask()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  local asked = {}
  vim.ui.input = function(opts, on_confirm)
    table.insert(asked, opts.prompt)
    on_confirm("explain what this code does")
  end
  select_lines(4, 6)
  vim.cmd("'<,'>AssistantAsk")
  wait("the explanation", function()
    return notified("read as explain") ~= nil
  end)
  out.input_prompts = asked
  out.document = {
    name = vim.api.nvim_buf_get_name(0),
    text = text_of(0),
    windows = #vim.api.nvim_tabpage_list_wins(0),
    source_shown = vim.fn.bufwinid(bufnr) ~= -1, -- the code stays in view beside the explanation
  }

  -- An unclear request: the server asks (window/showMessageRequest); answer "review".
  vim.cmd("buffer " .. bufnr)
  local offered = {}
  out.offered = offered
  if modern then
    vim.ui.select = function(items, opts, on_choice)
      for _, item in ipairs(items) do
        table.insert(offered, item.title)
      end
      out.choice_prompt = opts.prompt
      for i, item in ipairs(items) do
        if item.title:lower():find("review", 1, true) then
          return on_choice(item, i)
        end
      end
      on_choice(nil, nil)
    end
  else
    -- 0.7 asks with inputlist(), from its own window/showMessageRequest handler.
    vim.fn.inputlist = function(lines)
      out.choice_prompt = lines[1]
      for i = 3, #lines do
        table.insert(offered, (lines[i]:gsub("^%d+%. ", "")))
      end
      for i, title in ipairs(offered) do
        if title:lower():find("review", 1, true) then
          return i
        end
      end
      return 0
    end
  end
  vim.cmd("5AssistantAsk this one")
  wait("the chosen review", function()
    return notified("you chose review") ~= nil
  end)
  out.diagnostics = our_diagnostics(bufnr)
end

--- What the plugin knows of the tasks: its table, the commands' completion
--- of task names and :AssistantRun's usage message for a name it lacks.
local function record_tasks()
  out.table = ar.task_table()
  out.complete_run = vim.fn.getcompletion("AssistantRun ", "cmdline")
  out.complete_route = vim.fn.getcompletion("AssistantRoute ", "cmdline")
  out.complete_prefix = vim.fn.getcompletion("AssistantRun re", "cmdline")
  vim.cmd("AssistantRun no-such-task")
end

function SCENARIOS.tasks()
  ar.setup({})
  local bufnr = open(file)
  attached(bufnr)
  record_tasks()
end

--- Against tests/editors/fake_server.py ($AR_CMD): a server with tasks of its own.
function SCENARIOS.fake_tasks()
  ar.setup({ cmd = vim.json.decode((assert(os.getenv("AR_CMD"), "AR_CMD"))) })
  local bufnr = open(file)
  -- Straight away, before the server has answered initialize: completion waits for the table.
  out.complete_at_once = vim.fn.getcompletion("AssistantRun ", "cmdline")
  attached(bufnr)
  record_tasks()
  -- Each task on a bare cursor (line 4, column 5): the row's emptySelection decides the range.
  out.ran = {}
  for _, row in ipairs(out.table) do
    vim.api.nvim_win_set_cursor(0, { 4, 4 })
    local done = false
    ar.run({ args = row.name, on_result = function()
      done = true
    end })
    wait("the result of " .. row.name, function()
      return done
    end)
    table.insert(out.ran, row.name)
  end
end

function SCENARIOS.missing()
  local ok = ar.setup({ cmd = { "assistant-router-not-installed", "serve" } })
  out.setup_returned = ok
  local bufnr = open(file)
  vim.wait(300, function()
    return false
  end)
  out.clients = #ar.clients(bufnr)
end

--- In insert mode at the end of line `line` of the current buffer: waits for
--- the ghost text (the extmarks of Neovim's inline completion), accepts it
--- with vim.lsp.inline_completion.get() and waits for the text and the
--- acceptance command's answer (`commands`: what the client sent).
local function complete_at_end_of(client, line, commands)
  local bufnr = vim.api.nvim_get_current_buf()
  local seen = { commands_before = #commands }
  -- The plugin turns it on from on_attach, scheduled: wait for Neovim's
  -- per-buffer completor to have the client (vim.lsp._capability, internal).
  wait("inline completion to be on for the buffer", function()
    local completor = vim.lsp._capability.all.inline_completion
    local active = completor and completor.active[bufnr]
    return active ~= nil and active.client_state[client.id] ~= nil
  end)
  local namespace = vim.api.nvim_create_namespace("nvim.lsp.inline_completion")
  local function marks()
    return vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true })
  end
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  local deadline = vim.uv.now() + TIMEOUT
  local step = "the ghost text"
  local function finish(message)
    seen.failure = message
    vim.cmd("stopinsert")
  end
  -- nvim_feedkeys("A", "nx!") returns only when insert mode ends: the steps poll from timers.
  local function poll(predicate, after)
    local function tick()
      local ok, done = pcall(predicate)
      if not ok then
        return finish(step .. ": " .. tostring(done))
      elseif done then
        local ok_after, failure = pcall(after)
        if not ok_after then
          finish(step .. ": " .. tostring(failure))
        end
      elseif vim.uv.now() > deadline then
        finish("timed out waiting for " .. step)
      else
        vim.defer_fn(tick, 20)
      end
    end
    vim.defer_fn(tick, 20)
  end
  poll(function()
    return #marks() > 0
  end, function()
    seen.mode = vim.api.nvim_get_mode().mode
    seen.cursor = vim.api.nvim_win_get_cursor(0)
    seen.marks = {}
    for _, mark in ipairs(marks()) do
      local details = mark[4]
      table.insert(seen.marks, {
        row = mark[2], col = mark[3], virt_text = details.virt_text, virt_lines = details.virt_lines,
      })
    end
    seen.text_shown = text_of(bufnr)
    step = "accepting it"
    seen.accepted = vim.lsp.inline_completion.get()
    poll(function()
      local sent = commands[seen.commands_before + 1]
      return text_of(bufnr) ~= seen.text_shown and sent ~= nil and sent.answered
    end, function()
      seen.marks_after = #marks()
      seen.cursor_after = vim.api.nvim_win_get_cursor(0)
      seen.done = true
      vim.cmd("stopinsert")
    end)
  end)
  vim.api.nvim_feedkeys("A", "nx!", false)
  if seen.failure then
    error(seen.failure)
  end
  wait("the insert-mode steps", function()
    return seen.done == true
  end)
  seen.text = text_of(bufnr)
  seen.commands = vim.list_slice(commands, seen.commands_before + 1)
  return seen
end

--- Inline completion (Neovim 0.12+), with setup({ inline_completion = true }):
--- at the end of line $AR_LINE the ghost text appears and is accepted (see
--- complete_at_end_of); then the same in a second file ($AR_SECOND, if set),
--- which the client attaches to later.
function SCENARIOS.inline()
  ar.setup({ inline_completion = true })
  local bufnr = open(file)
  local client = attached(bufnr)
  local commands = {}
  local request = client.request
  client.request = function(self, method, params, handler, ...)
    if method == "workspace/executeCommand" then
      local sent = { command = params.command, arguments = params.arguments }
      table.insert(commands, sent)
      local inner = handler
      handler = function(err, result, ...)
        sent.answered, sent.error = true, err and err.message or nil
        if inner then
          return inner(err, result, ...)
        end
      end
    end
    return request(self, method, params, handler, ...)
  end
  local line = tonumber(os.getenv("AR_LINE") or "") or 2
  out.first = complete_at_end_of(client, line, commands)
  local second = os.getenv("AR_SECOND")
  if second then
    local other = open(second)
    attached(other)
    out.second = complete_at_end_of(client, line, commands)
  end
end

--- Neovim without vim.lsp.inline_completion (0.7 - 0.11): the option is
--- ignored with one note, and the plugin works as before.
function SCENARIOS.inline_ignored()
  out.setup_returned = ar.setup({ inline_completion = true })
  local bufnr = open(file)
  attached(bufnr)
  out.actions = code_actions(1, 2, nil)
end

local ok, err = xpcall(function()
  local run = SCENARIOS[scenario] or error("unknown scenario " .. scenario)
  run()
end, debug.traceback)
if not ok then
  out.error = tostring(err)
end
write(out)
-- Stop the server now rather than in the exit handler's grace period.
for _, client in ipairs(ar.clients()) do
  if vim.fn.has("nvim-0.11") == 1 then
    client:stop(true)
  else
    client.stop(true)
  end
end
vim.cmd(ok and "qall!" or "cquit 1")
