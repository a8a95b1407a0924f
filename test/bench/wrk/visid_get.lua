-- wrk script: GET one stored VisiSession from visid. Args: NAME TOKEN.
function init(args)
  path = "/apis/visi.dev/v1alpha1/namespaces/bench/visisessions/" .. (args[1] or "probe")
  token = args[2] or ""
end

function request()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
