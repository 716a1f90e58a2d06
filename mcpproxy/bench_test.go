package mcpproxy

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkRelay measures one request/response round trip, client to server
// and back, sequentially, four ways:
//
//   - inproc: the echo server is a goroutine on a pair of pipes in this
//     process: what the harness itself costs.
//   - direct: the echo server is a child process on its stdin and stdout, as a
//     client runs an MCP server. This is the baseline of the ratios.
//   - floor: the same child behind a bare line relay written here: two
//     goroutines that read lines and write each with one Write. No relay can
//     be cheaper.
//   - proxy: the same child behind mcpproxy.Run with a real registry journal:
//     a tools/call is scanned, digested, recorded (call and outcome, signed
//     and chained in SQLite) and relayed; a ping is only relayed.
//
// floor and proxy report x-direct, their ns/op over direct's from the same
// run (run the whole benchmark, not one sub-benchmark, to get it). The
// proxy's own cost per round trip is proxy minus floor.
func BenchmarkRelay(b *testing.B) {
	direct := map[string]float64{}
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"call-1KiB", benchCall(1 << 10)},
		{"call-1MiB", benchCall(1 << 20)},
		{"ping", []byte(`{"jsonrpc":"2.0","id":"00000000","method":"ping"}` + "\n")},
	} {
		b.Run(tc.name+"/inproc", func(b *testing.B) {
			cr, sw, _ := os.Pipe()
			sr, cw, _ := os.Pipe()
			go fakeEchoServer(sr, sw)
			defer func() { cw.Close(); cr.Close(); sr.Close(); sw.Close() }()
			roundTrips(b, cw, cr, tc.req)
		})
		b.Run(tc.name+"/direct", func(b *testing.B) {
			in, out := startEcho(b)
			roundTrips(b, in, out, tc.req)
			direct[tc.name] = nsPerOp(b)
		})
		b.Run(tc.name+"/floor", func(b *testing.B) {
			in, out := startEcho(b)
			cr, pw, _ := os.Pipe()
			pr, cw, _ := os.Pipe()
			go bareRelay(pr, in)
			go bareRelay(out, pw)
			defer func() { cw.Close(); cr.Close(); pr.Close(); pw.Close() }()
			roundTrips(b, cw, cr, tc.req)
			reportRatio(b, direct[tc.name])
		})
		b.Run(tc.name+"/proxy", func(b *testing.B) {
			reg := newRegistry(b)
			j := reg.journal(b)
			inR, inW, _ := os.Pipe()
			outR, outW, _ := os.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- Run(context.Background(), Options{
					Command: []string{os.Args[0]}, Env: append(os.Environ(), envFake+"=echo", fastExit),
					Stdin: inR, Stdout: outW, Stderr: os.Stderr,
					Setup: func(context.Context) (Decider, Journal, error) { return nil, j, nil },
				})
			}()
			roundTrips(b, inW, outR, tc.req)
			reportRatio(b, direct[tc.name])
			inW.Close()
			if err := <-done; err != nil {
				b.Errorf("Run: %v", err)
			}
			outW.Close()
			outR.Close()
			inR.Close()
		})
	}
}

// benchCall is a tools/call whose text argument has n bytes. Its id is a
// fixed-width string that roundTrips rewrites in place.
func benchCall(n int) []byte {
	return []byte(`{"jsonrpc":"2.0","id":"00000000","method":"tools/call","params":{"name":"echo","arguments":{"text":"` +
		strings.Repeat("x", n) + `"}}}` + "\n")
}

// roundTrips sends req b.N times, one at a time, each with a new id, and
// reads each answer.
func roundTrips(b *testing.B, w io.Writer, r io.Reader, req []byte) {
	b.Helper()
	req = bytes.Clone(req)
	id := bytes.Index(req, []byte(`"id":"`)) + len(`"id":"`)
	lr := newLines(r)
	trip := func(i int) {
		for k, n := id+7, i; k >= id; k, n = k-1, n/10 {
			req[k] = byte('0' + n%10)
		}
		if _, err := w.Write(req); err != nil {
			b.Fatalf("write: %v", err)
		}
		line, err := lr.next()
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		if !bytes.Contains(line[:min(len(line), 64)], req[id-1:id+9]) {
			b.Fatalf("answer %.80q is not for id %s", line, req[id-1:id+9])
		}
	}
	trip(99999999) // warm up: the child runs, the registry is ready
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		trip(i % 1e8)
	}
	b.StopTimer()
}

// startEcho runs the echo server as a child process.
func startEcho(b *testing.B) (io.WriteCloser, io.ReadCloser) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envFake+"=echo", fastExit)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return in, out
}

// bareRelay copies lines from r to w, one Write per line: the least a line
// relay can do.
func bareRelay(r io.Reader, w io.Writer) {
	lr := newLines(r)
	for {
		line, err := lr.next()
		if len(line) > 0 {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func nsPerOp(b *testing.B) float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

func reportRatio(b *testing.B, direct float64) {
	if direct > 0 {
		b.ReportMetric(nsPerOp(b)/direct, "x-direct")
	}
}
