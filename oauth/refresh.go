package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// tokenError is the authorization server's refusal of a token request.
type tokenError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *tokenError) Error() string {
	s := fmt.Sprintf("the authorization server answered HTTP %d", e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += " (" + e.Description + ")"
	}
	return s
}

// refresh trades the refresh token for a new access token. It sends the
// resource, as the specification asks of every token request (the oauth2
// package's refresh does not), and keeps the new refresh token when the
// server rotates it.
func refresh(ctx context.Context, c *http.Client, g *grant, now time.Time) (*grant, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}
	if g.Resource != "" {
		form.Set("resource", g.Resource)
	}
	basic := g.AuthMethod == "client_secret_basic" && g.ClientSecret != ""
	if !basic {
		form.Set("client_id", g.ClientID)
		if g.ClientSecret != "" {
			form.Set("client_secret", g.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(g.ClientID), url.QueryEscape(g.ClientSecret))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		te := &tokenError{Status: resp.StatusCode}
		json.Unmarshal(body, te)
		return nil, te
	}
	var t struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		RefreshToken string          `json:"refresh_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Scope        string          `json:"scope"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("the authorization server's refresh answer holds no access token")
	}
	ng := *g
	ng.setToken(t.AccessToken, t.TokenType, t.RefreshToken, now, expiry(t.ExpiresIn, now), strings.Fields(t.Scope))
	return &ng, nil
}

// expiry reads expires_in, a number (or, from some servers, a string).
func expiry(raw json.RawMessage, now time.Time) time.Time {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(n) * time.Second)
}

// probe asks the server what it wants, for aim-mcp login: an initialize
// without a token, whose 401 names the resource metadata and scopes. A
// session the server opened for it is ended again.
func probe(ctx context.Context, c *http.Client, u string) (ch challenge, status int, err error) {
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"aim-mcp login","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return challenge{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		return challenge{}, 0, fmt.Errorf("the server at %s: %w", u, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" && resp.StatusCode/100 == 2 {
		if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil); err == nil {
			del.Header.Set("Mcp-Session-Id", sid)
			if r, err := c.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return parseChallenge(resp.Header), resp.StatusCode, nil
}
