-- wrk script: read one key from etcd's v3 JSON gateway (linearizable range).
-- The key "/bench/probe" is base64 "L2JlbmNoL3Byb2Jl".
function request()
  return wrk.format("POST", "/v3/kv/range", {["Content-Type"] = "application/json"},
                    '{"key":"L2JlbmNoL3Byb2Jl"}')
end
