-- wrk script: durable creates against visid. Each request creates a new
-- VisiSession (about 1 KiB stored). Args: NAME_PREFIX TOKEN.
local counter = 0
local threads = 0
local pad = string.rep("p", 400)

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  prefix = args[1] or "b"
  token = args[2] or ""
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"%s-%d-%d","namespace":"bench"},' ..
    '"spec":{"user":"bench","env":[{"name":"PAD","value":"%s"}]}}', prefix, id, counter, pad)
  return wrk.format("POST", "/apis/visi.dev/v1alpha1/namespaces/bench/visisessions",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
