-- The differences between Neovim 0.7 and current releases, in one place.
--
-- 0.7: client.request(...), vim.lsp.get_active_clients(), no vim.lsp.config,
--      no window/showDocument handler, vim.str_utfindex(s, byte) -> (utf32, utf16).
-- 0.10: vim.lsp.get_clients(), LspProgress autocmd.
-- 0.11: client:request(...) (method call), vim.lsp.config/enable, client:exec_cmd,
--       vim.str_utfindex(s, encoding, index, strict).
local M = {}

local function has(version)
  return vim.fn.has("nvim-" .. version) == 1
end

M.has = has
M.nvim_0_10 = has("0.10")
M.nvim_0_11 = has("0.11")

--- JSON null arrives as vim.NIL on 0.8+ (and as nil in objects on 0.7).
function M.value(x)
  if x == vim.NIL then
    return nil
  end
  return x
end

--- Clients named `name`, optionally only those attached to `bufnr`, by id.
function M.get_clients(name, bufnr)
  local found = {}
  if vim.lsp.get_clients then
    found = vim.lsp.get_clients({ name = name, bufnr = bufnr })
  else
    local all = bufnr and vim.lsp.buf_get_clients(bufnr) or vim.lsp.get_active_clients()
    for _, client in pairs(all) do
      if client.name == name then
        table.insert(found, client)
      end
    end
  end
  table.sort(found, function(a, b)
    return a.id < b.id
  end)
  return found
end

function M.is_stopped(client)
  if client == nil then
    return true
  end
  if M.nvim_0_11 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- Returns (ok, request_id).
function M.request(client, method, params, handler, bufnr)
  if M.nvim_0_11 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Returns the response ({err=, result=}) or nil (a timeout or a stopped client).
function M.request_sync(client, method, params, timeout_ms, bufnr)
  if M.nvim_0_11 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  return client.request_sync(method, params, timeout_ms, bufnr)
end

function M.notify(client, method, params)
  if M.nvim_0_11 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel_request(client, id)
  if M.nvim_0_11 then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- Whether the server advertises `command` in executeCommandProvider.commands
--- (0.7 keeps the raw capabilities in client.server_capabilities too).
function M.advertises(client, command)
  local caps = client.server_capabilities or {}
  local provider = M.value(caps.executeCommandProvider)
  local commands = type(provider) == "table" and M.value(provider.commands) or {}
  for _, name in ipairs(commands or {}) do
    if name == command then
      return true
    end
  end
  return false
end

--- The character index of byte offset `byte` in `line`, in the client's
--- position encoding ("utf-8", "utf-16" or "utf-32").
function M.char_index(line, byte, encoding)
  byte = math.max(0, math.min(byte, #line))
  if encoding == "utf-8" then
    return byte
  end
  if M.nvim_0_11 then
    return vim.str_utfindex(line, encoding, byte, false)
  end
  local utf32, utf16 = vim.str_utfindex(line, byte)
  return encoding == "utf-32" and utf32 or utf16
end

--- The position encoding a client negotiated.
function M.encoding(client)
  return client.offset_encoding or "utf-16"
end

--- Neovim's own progress entry for a token on 0.7-0.9 (client.messages.progress,
--- what vim.lsp.util.get_progress_messages() reads; read here without
--- consuming it, so statusline plugins still see every update).
function M.legacy_progress(client_id, token)
  local client = vim.lsp.get_client_by_id(client_id)
  local progress = client and client.messages and client.messages.progress
  return progress and progress[token] or nil
end

return M
