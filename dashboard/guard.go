package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the file in aim-mcp's home that keeps the dashboard's token.
const TokenFile = "dashboard.token"

// cookieName is the session cookie; it holds the token itself, never
// readable from script (HttpOnly) nor sent by another site (Strict).
const cookieName = "aim_mcp_dashboard"

// csp allows nothing but the page's own embedded script, style and API.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// LoadToken reads the dashboard's token from the home directory, creating
// it (mode 0600, 32 random bytes) the first time. An existing token is
// never overwritten: every dashboard of the home shares one link.
func LoadToken(dir string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); len(t) >= 32 {
			return t, nil
		}
		return "", fmt.Errorf("dashboard token %q is too short: delete it to make a new one", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read dashboard token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it meanwhile
		return LoadToken(dir)
	}
	if err != nil {
		return "", fmt.Errorf("create dashboard token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("write dashboard token: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("write dashboard token: %w", err)
	}
	return tok, nil
}

// csrfToken is derived from the token: the page gets it in a meta tag and
// sends it back in a header with every change; another site can neither
// read it nor compute it.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("aim-mcp dashboard csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// guard lets a request through only when it comes to the address served,
// from the page itself, with the cookie (or the token once, in the URL).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		// DNS rebinding: a foreign name that resolves to 127.0.0.1 still
		// carries its own name in Host.
		if !s.hosts[r.Host] {
			refuse(w, http.StatusForbidden, "This address is not the dashboard's",
				fmt.Sprintf("The dashboard answers only at %s.", s.base))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "http://"+r.Host {
				refuse(w, http.StatusForbidden, "Refused: not from the dashboard's own page",
					"A change must come from the dashboard's page (its Origin header was "+quote(o)+").")
				return
			}
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
				refuse(w, http.StatusForbidden, "Refused: not from the dashboard's own page",
					"A change must come from the dashboard's page (Sec-Fetch-Site "+quote(site)+").")
				return
			}
		}
		if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet {
			if !equal(t, s.opt.Token) {
				s.unauthorized(w)
				return
			}
			// Take the token from the address once, keep it in a cookie,
			// and send the browser on to the same page without it.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.opt.Token, Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		c, err := r.Cookie(cookieName)
		if err != nil || !equal(c.Value, s.opt.Token) {
			s.unauthorized(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !equal(r.Header.Get("X-CSRF-Token"), s.csrf) {
			refuse(w, http.StatusForbidden, "Refused: missing CSRF token",
				"Reload the dashboard's page and try again.")
			return
		}
		s.touch()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	refuse(w, http.StatusUnauthorized, "This dashboard needs its link",
		"The aim-mcp dashboard opens only from the link that carries its key. "+
			"Run \"aim-mcp dashboard\" in a terminal: it prints the link and opens it in your browser. "+
			"The link is also in the notification of a held call.")
}

func quote(s string) string {
	if s == "" {
		return "missing"
	}
	return fmt.Sprintf("%q", s)
}

// refuse answers with a small page of its own (no script, no assets); the
// text is escaped, as it may quote the request.
func refuse(w http.ResponseWriter, code int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>aim-mcp: %s</title></head>`+
		`<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5">`+
		`<h1 style="font-size:1.3em">%s</h1><p>%s</p><p style="color:#666">HTTP %d</p></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg), code)
}
