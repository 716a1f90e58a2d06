// Package remoteurl holds the checks of a remote server's address that
// install (which rewrites entries), the proxy (which refuses --url), the
// OAuth client and the dashboard must agree on: an entry install writes is
// one the proxy accepts.
package remoteurl

import (
	"net"
	"net/url"
	"strings"
)

// Loopback reports whether host (a URL's Hostname) is this machine:
// localhost or a loopback address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HeaderName reports whether s is an HTTP header name (an RFC 9110 token).
func HeaderName(s string) bool {
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return s != ""
}

// Problem is what makes a URL unfit for a remote MCP server.
type Problem int

const (
	OK          Problem = iota
	NotHTTP             // not an http(s) URL with a host
	Credentials         // user info in the URL: argv is readable by every local user
	PlainHTTP           // plain http to another machine: tokens and arguments in the clear
)

// Check says what is wrong with raw as a remote server's URL: https, or
// http to this machine only, and no credentials in the URL itself.
func Check(raw string) (*url.URL, Problem) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return u, NotHTTP
	case u.User != nil:
		return u, Credentials
	case u.Scheme == "http" && !Loopback(u.Hostname()):
		return u, PlainHTTP
	}
	return u, OK
}
