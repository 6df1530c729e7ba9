-- wrk script of bench/soak: a mix of GET and POST searches on the sample
-- movies, each checked against the estimatedTotalHits Miroir gave with every
-- node up (a wrong total means a shard was missed).
--
-- Environment: SOAK_QUERIES  file of lines "METHOD<TAB>PATH<TAB>BODY<TAB>Q<TAB>TOTAL"
--                             (BODY "-" for a GET; Q the query the answer echoes)
--              SOAK_KEY      the client master key
-- done() prints one line: soak-wrk: requests=N status2xx=N non2xx=N
-- wrongtotal=N unparsed=N errors_connect=N errors_read=N errors_write=N
-- errors_timeout=N errors_status=N

local queries = {}
local expected = {}
local threads = {}
local n = 0

local function load()
    local path = os.getenv("SOAK_QUERIES")
    local key = os.getenv("SOAK_KEY") or ""
    local f = assert(io.open(path, "r"))
    for line in f:lines() do
        local m, p, b, q, t = line:match("^(%u+)\t([^\t]+)\t([^\t]*)\t([^\t]*)\t(%d+)$")
        if m then
            local h = { ["Authorization"] = "Bearer " .. key }
            local body = nil
            if b ~= "-" then
                h["Content-Type"] = "application/json"
                body = b
            end
            queries[#queries + 1] = wrk.format(m, p, h, body)
            expected[q] = tonumber(t)
        end
    end
    f:close()
    assert(#queries > 0, "no query in " .. tostring(path))
end

function setup(thread)
    threads[#threads + 1] = thread
end

function init(args)
    load()
    n = math.random(#queries)
    ok, bad, wrongtotal, unparsed = 0, 0, 0, 0
end

function request()
    n = n % #queries + 1
    return queries[n]
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        bad = bad + 1
        return
    end
    ok = ok + 1
    local q = body:match('"query":"([^"]*)"')
    local t = body:match('"estimatedTotalHits":(%d+)')
        or body:match('"totalHits":(%d+)')
    if q == nil or t == nil or expected[q] == nil then
        unparsed = unparsed + 1
    elseif tonumber(t) ~= expected[q] then
        wrongtotal = wrongtotal + 1
    end
end

function done(summary, latency, requests)
    local s = { ok = 0, bad = 0, wrongtotal = 0, unparsed = 0 }
    for _, t in ipairs(threads) do
        for k, _ in pairs(s) do
            s[k] = s[k] + (t:get(k) or 0)
        end
    end
    local e = summary.errors
    io.write(string.format("soak-wrk: requests=%d status2xx=%d non2xx=%d "
        .. "wrongtotal=%d unparsed=%d errors_connect=%d errors_read=%d "
        .. "errors_write=%d errors_timeout=%d errors_status=%d "
        .. "latency_p50_ms=%.1f latency_p99_ms=%.1f latency_max_ms=%.1f\n",
        summary.requests, s.ok, s.bad, s.wrongtotal, s.unparsed,
        e.connect, e.read, e.write, e.timeout, e.status,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency.max / 1000))
end
