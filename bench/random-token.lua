-- wrk script: every request presents a token drawn at random (fixed seed) from the file named
-- by TOKENS (one per line), as `Authorization: Bearer`.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
assert(#tokens > 0, "no tokens in " .. os.getenv("TOKENS"))
math.randomseed(7919)

request = function()
  local token = tokens[math.random(#tokens)]
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end
