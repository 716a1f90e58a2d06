package claudeconfig

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
)

// parseMCPRemote reads a command line that runs npx mcp-remote (geelen's
// stdio-to-HTTP bridge): nil when it is another command. Each of its
// options is mapped to what aim-mcp proxy takes; one that has no
// equivalent, or that would change what reaches the server, is a Problem,
// and the entry stays as it is.
func parseMCPRemote(argv []string, envNames []string) (*Remote, *remoteRaw) {
	if len(argv) < 2 {
		return nil, nil
	}
	base := strings.ToLower(argv[0][strings.LastIndexAny(argv[0], `/\`)+1:])
	if base != "npx" && base != "npx.cmd" && base != "npx.exe" {
		return nil, nil
	}
	i := 1
	for i < len(argv) && (argv[i] == "-y" || argv[i] == "--yes") {
		i++
	}
	if i >= len(argv) || (argv[i] != "mcp-remote" && !strings.HasPrefix(argv[i], "mcp-remote@")) {
		return nil, nil
	}
	i++
	r, raw := &Remote{Transport: "auto"}, &remoteRaw{}
	problem := func(format string, args ...any) {
		if r.Problem == "" {
			r.Problem = fmt.Sprintf(format, args...)
		}
	}
	if i >= len(argv) {
		problem("mcp-remote has no URL")
		return r, raw
	}
	r.URL = argv[i]
	for i++; i < len(argv); i++ {
		a := argv[i]
		val := func() string {
			if i+1 >= len(argv) {
				problem("mcp-remote option %s has no value", a)
				return ""
			}
			i++
			return argv[i]
		}
		switch {
		case a == "--header":
			h := val()
			name, v, ok := strings.Cut(h, ":")
			name, v = strings.TrimSpace(name), strings.TrimSpace(v)
			if !ok || !remoteurl.HeaderName(name) {
				problem("mcp-remote --header %q is not NAME:VALUE", name)
				continue
			}
			r.HeaderNames = append(r.HeaderNames, name)
			// mcp-remote fills ${VAR} in from its environment, the
			// entry's env: a whole value that is one variable is read
			// from that variable; part of one cannot be.
			if ref, ok := strings.CutPrefix(v, "${"); ok && strings.HasSuffix(ref, "}") && slices.Contains(envNames, ref[:len(ref)-1]) {
				raw.headers = append(raw.headers, rawHeader{name: name, envVar: ref[:len(ref)-1]})
				continue
			}
			if strings.Contains(v, "${") {
				problem("mcp-remote --header %s holds a variable inside a longer value", name)
			}
			raw.headers = append(raw.headers, rawHeader{name: name, value: jsonedit.Quote(v)})
		case a == "--transport":
			switch t := val(); t {
			case "http-only":
				r.Transport = "http"
			case "sse-only":
				r.Transport = "sse"
			case "http-first", "sse-first": // both end up at the server; auto tries HTTP first
				r.Transport = "auto"
			default:
				problem("mcp-remote --transport %q is unknown", t)
			}
		case a == "--allow-http": // the URL check below decides
		case a == "--resource":
			if v := val(); v != r.URL {
				problem("mcp-remote --resource %q differs from the URL; aim-mcp asks for tokens for the URL itself", v)
			}
		case a == "--static-oauth-client-info":
			var info map[string]any
			v := val()
			if strings.HasPrefix(v, "@") || json.Unmarshal([]byte(v), &info) != nil {
				problem("mcp-remote --static-oauth-client-info is not inline JSON")
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(info)) {
				s, ok := info[k].(string)
				switch {
				case ok && k == "client_id":
					r.OAuth.ClientID = s
				case ok && k == "client_secret":
					r.OAuth.ClientSecret, raw.secret = true, jsonedit.Quote(s)
				default:
					problem("mcp-remote --static-oauth-client-info %q has no aim-mcp equivalent", k)
				}
			}
		case a == "--static-oauth-client-metadata":
			var md map[string]any
			if json.Unmarshal([]byte(val()), &md) != nil {
				problem("mcp-remote --static-oauth-client-metadata is not inline JSON")
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(md)) {
				if s, ok := md[k].(string); ok && k == "scope" {
					r.OAuth.Scopes = s
					continue
				}
				problem("mcp-remote --static-oauth-client-metadata %q has no aim-mcp equivalent", k)
			}
		case a != "" && strings.Trim(a, "0123456789") == "" && r.OAuth.CallbackPort == "":
			r.OAuth.CallbackPort = a // mcp-remote URL [PORT]
		default:
			problem("mcp-remote option %q has no aim-mcp equivalent", a)
		}
	}
	if p := urlProblem(r.URL); p != "" {
		problem("%s", p)
	}
	for _, n := range envNames {
		if strings.HasPrefix(n, HeaderEnvPrefix) || n == ClientSecretEnv {
			problem("its env already has %s, which aim-mcp would use", n)
		}
	}
	return r, raw
}
