// Package surface starts an MCP server over stdio and reads what it tells
// the model before any call: the instructions of initialize, and its tools,
// prompts and resources (every page). It is what "aim-mcp scan" and install
// scan; the results are the raw JSON the server sent, so nothing a typed
// decoder would drop escapes the scanner.
package surface

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// Surface is what a server showed.
type Surface struct {
	Instructions string
	ServerName   string
	// Tools, Prompts, Resources and Templates are list results in the
	// shape of one page ({"tools": [...]}), the pages joined.
	Tools, Prompts, Resources, Templates json.RawMessage
	NTools, NPrompts, NResources         int
}

// Options say how to run the server; nil means the defaults.
type Options struct {
	Env     []string      // the server's environment; nil inherits ours
	Dir     string        // working directory
	Timeout time.Duration // for the whole exchange; 0 means 30 s
	Stderr  io.Writer     // the server's stderr; nil discards it
}

// ErrTimeout says the server did not answer in time.
var ErrTimeout = errors.New("the server did not answer in time")

// List starts argv, initializes a session and lists everything.
func List(ctx context.Context, argv []string, o *Options) (Surface, error) {
	if len(argv) == 0 {
		return Surface{}, errors.New("no server command")
	}
	if o == nil {
		o = &Options{}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stderr = o.Env, o.Dir, o.Stderr
	cmd.WaitDelay = 2 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		return Surface{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Surface{}, err
	}
	if err := cmd.Start(); err != nil {
		return Surface{}, fmt.Errorf("start %q: %w", argv[0], err)
	}
	s := &session{in: in, out: bufio.NewReader(out)}
	res, err := s.run(ctx)
	in.Close() // stdin EOF asks the server to exit
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		cancel() // kills it
		<-done
	}
	if err != nil && ctx.Err() != nil {
		return res, ErrTimeout
	}
	return res, err
}

// session is one JSON-RPC conversation with the server.
type session struct {
	in  io.Writer
	out *bufio.Reader
	id  int
}

func (s *session) run(ctx context.Context) (Surface, error) {
	var res Surface
	init, err := s.call(ctx, "initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "aim-mcp-scan", "version": "1"}})
	if err != nil {
		return res, fmt.Errorf("initialize: %w", err)
	}
	var ir struct {
		Instructions string                `json:"instructions"`
		ServerInfo   struct{ Name string } `json:"serverInfo"`
		Capabilities map[string]any        `json:"capabilities"`
	}
	json.Unmarshal(init, &ir)
	res.Instructions, res.ServerName = ir.Instructions, ir.ServerInfo.Name
	if err := s.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}); err != nil {
		return res, err
	}
	list := func(method, key string, n *int) (json.RawMessage, error) {
		var all []json.RawMessage
		cursor := ""
		for page := 0; page < 100; page++ {
			params := map[string]any{}
			if cursor != "" {
				params["cursor"] = cursor
			}
			r, err := s.call(ctx, method, params)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", method, err)
			}
			var p map[string]json.RawMessage
			json.Unmarshal(r, &p)
			var items []json.RawMessage
			json.Unmarshal(p[key], &items)
			all = append(all, items...)
			cursor = ""
			json.Unmarshal(p["nextCursor"], &cursor)
			if cursor == "" {
				break
			}
		}
		*n += len(all)
		b, _ := json.Marshal(map[string]any{key: all})
		return b, nil
	}
	if _, ok := ir.Capabilities["tools"]; ok {
		if res.Tools, err = list("tools/list", "tools", &res.NTools); err != nil {
			return res, err
		}
	}
	if _, ok := ir.Capabilities["prompts"]; ok {
		if res.Prompts, err = list("prompts/list", "prompts", &res.NPrompts); err != nil {
			return res, err
		}
	}
	if _, ok := ir.Capabilities["resources"]; ok {
		if res.Resources, err = list("resources/list", "resources", &res.NResources); err != nil {
			return res, err
		}
		// Templates are optional; a server without them may refuse.
		res.Templates, _ = list("resources/templates/list", "resourceTemplates", &res.NResources)
	}
	return res, nil
}

func (s *session) send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = s.in.Write(append(b, '\n'))
	return err
}

// rpcError is a JSON-RPC error answer.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

// call sends a request and reads until its answer, answering the server's
// own requests (ping: an empty result; anything else: method not found) and
// skipping notifications and what is not JSON (a chatty server's logs).
func (s *session) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	s.id++
	id := strconv.Itoa(s.id)
	if err := s.send(map[string]any{"jsonrpc": "2.0", "id": s.id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		line, err := s.out.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the server closed its output")
			}
			return nil, err
		}
		line = bytes.TrimSpace(line)
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if len(line) == 0 || json.Unmarshal(line, &m) != nil {
			continue
		}
		switch {
		case m.Method != "" && len(m.ID) > 0:
			if m.Method == "ping" {
				s.send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{}})
			} else {
				s.send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "method not found"}})
			}
		case m.Method != "":
		case string(bytes.Trim(m.ID, `"`)) == id:
			if m.Error != nil {
				return nil, m.Error
			}
			return m.Result, nil
		}
	}
}
