package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// echo is a small MCP server on stdio with one tool, echo, whose result is
// its text argument: the other end of a big message's round trip, cheap
// enough that the round trip measures what sits between it and the client.
func echo() error {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	noteFirstByte(in)
	for {
		line, err := in.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Arguments struct {
					Text string `json:"text"`
				} `json:"arguments"`
			} `json:"params"`
		}
		if err := json.Unmarshal(line, &req); err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		if req.ID == nil {
			continue // a notification
		}
		var result any
		switch req.Method {
		case "initialize":
			result = map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{"tools": map[string]any{}},
				"serverInfo": map[string]any{"name": "scalegen-echo", "version": "1"}}
		case "tools/list":
			result = map[string]any{"tools": []any{map[string]any{"name": "echo", "description": "Returns its text.",
				"inputSchema": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}}}
		case "tools/call":
			result = map[string]any{"content": []any{map[string]any{"type": "text", "text": req.Params.Arguments.Text}}}
		default:
			result = map[string]any{}
		}
		b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
		if err != nil {
			return err
		}
		out.Write(b)
		out.WriteByte('\n')
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

// message starts the command after "--" as an MCP client would, sends it
// one tools/call echo whose text is --mib MiB, a few times, and prints the
// fastest round trip in ms and the command's peak resident memory in KiB
// (its VmHWM, read before it is told to stop).
func message(args []string) error {
	fs := flag.NewFlagSet("message", flag.ExitOnError)
	mib := fs.Int("mib", 64, "MiB of text in the call")
	runs := fs.Int("runs", 3, "round trips; the fastest is printed")
	fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 {
		return errors.New("message: no command after --")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer w.Close()
	in := bufio.NewReaderSize(r, 1<<20)
	send := func(line string) error {
		_, err := io.WriteString(w, line+"\n")
		return err
	}
	answer := func() ([]byte, error) { return in.ReadBytes('\n') }
	for _, step := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"scalegen","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	} {
		if err := send(step); err != nil {
			return err
		}
		if strings.Contains(step, `"id"`) {
			if _, err := answer(); err != nil {
				return fmt.Errorf("message: %s: %w", step[:40], err)
			}
		}
	}
	text := strings.Repeat("x", *mib<<20)
	best := time.Duration(0)
	for i := range *runs {
		req := `{"jsonrpc":"2.0","id":` + strconv.Itoa(3+i) + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + text + `"}}}`
		start := time.Now()
		if err := send(req); err != nil {
			return err
		}
		line, err := answer()
		if err != nil {
			return fmt.Errorf("message: the answer: %w", err)
		}
		took := time.Since(start)
		if !bytes.Contains(line, []byte(`"text":"`+text[:64])) || len(line) < len(text) {
			return fmt.Errorf("message: the answer is not the echo (%d bytes: %.120s)", len(line), line)
		}
		if best == 0 || took < best {
			best = took
		}
	}
	hwm, err := peakKiB(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("%.1f %d\n", float64(best.Microseconds())/1000, hwm)
	return nil
}

// peakKiB is a process's VmHWM.
func peakKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no VmHWM")
}
