-- wrk script of bench/redirect.sh. Every connection cycles through the
-- user agents of common download clients, so that enrichment parses more
-- than one and the store's rollups get a row per client, as with real
-- traffic. At the end it prints the latency percentiles that the script
-- reads (microseconds).
local agents = {
	"pip/24.0 {\"ci\":null,\"cpu\":\"x86_64\",\"implementation\":{\"name\":\"CPython\",\"version\":\"3.12.1\"},\"installer\":{\"name\":\"pip\",\"version\":\"24.0\"},\"system\":{\"name\":\"Linux\",\"release\":\"6.5.0\"}}",
	"docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))",
	"curl/8.5.0",
	"npm/10.8.2 node/v22.9.0 linux x64 workspaces/false",
	"Wget/1.21.4",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:131.0) Gecko/20100101 Firefox/131.0",
	"Go-http-client/1.1",
	"python-requests/2.32.3",
	"Homebrew/4.4.0 (Macintosh; arm64 Mac OS X 15.0) curl/8.7.1",
	"uv/0.4.18",
	"yarn/1.22.22 npm/? node/v20.17.0 darwin arm64",
}

local requests = {}
local n = 0

init = function(args)
	for k, ua in ipairs(agents) do
		local h = {}
		for name, value in pairs(wrk.headers) do
			h[name] = value
		end
		h["User-Agent"] = ua
		requests[k] = wrk.format(nil, nil, h)
	end
end

request = function()
	n = n % #requests + 1
	return requests[n]
end

done = function(summary, latency, requests)
	io.write(string.format("LATENCY_US p50=%d p99=%d p999=%d\n",
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
