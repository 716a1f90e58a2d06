package mcpproxy

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// BenchmarkProxiesOneHome runs 1, 4 and 32 aim-mcp proxy processes (the
// real binary, each in front of its own echo server) on one home, all at
// once, each driven by a client of its own that sends 1 KiB tools/calls
// back to back. Every call leaves two records (the call, committed before
// it is forwarded, and its outcome), so records/s is what the home takes
// in; p99-ms is the slowest percent of the round trips, across proxies.
// After the run the records are counted and the chain verified: a
// benchmark that lost records would be measuring the wrong thing.
func BenchmarkProxiesOneHome(b *testing.B) {
	bin := aimMCP(b)
	for _, n := range []int{1, 4, 32} {
		b.Run(fmt.Sprintf("proxies-%d", n), func(b *testing.B) {
			home := b.TempDir()
			env := append(os.Environ(), binEnv(b, envFake+"=echo")...)
			type session struct {
				in  io.WriteCloser
				out *lines
				cmd *exec.Cmd
			}
			sessions := make([]session, n)
			for i := range sessions {
				cmd := exec.Command(bin, "proxy", "--server", fmt.Sprintf("echo%d", i), "--home", home, "--", os.Args[0])
				cmd.Env = env
				cmd.Stderr = io.Discard
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
				sessions[i] = session{in: in, out: newLines(out), cmd: cmd}
			}
			req := benchCall(1 << 10)
			trip := func(s session, id int) error {
				r := slices.Clone(req)
				copy(r[len(`{"jsonrpc":"2.0","id":"`):], fmt.Sprintf("%08d", id))
				if _, err := s.in.Write(r); err != nil {
					return err
				}
				_, err := s.out.next()
				return err
			}
			for i, s := range sessions { // each proxy has registered its server and opened the home
				if err := trip(s, 99999990-i); err != nil {
					b.Fatal(err)
				}
			}
			per := max(1, b.N/n)
			lat := make([][]time.Duration, n)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, s := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range per {
						t0 := time.Now()
						if err := trip(s, i*per+k); err != nil {
							b.Error(err)
							return
						}
						lat[i] = append(lat[i], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			for _, s := range sessions {
				s.in.Close()
				s.cmd.Wait()
			}
			all := slices.Concat(lat...)
			slices.Sort(all)
			calls := len(all)
			b.ReportMetric(float64(2*calls)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(all[calls*99/100].Microseconds())/1000, "p99-ms")
			db, err := registry.Open(context.Background(), filepath.Join(home, "aim.db"), registry.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			recs, err := db.Records(context.Background(), registry.Filter{Kind: registry.KindCall})
			if err != nil {
				b.Fatal(err)
			}
			if want := calls + n; len(recs) != want { // the warm-up calls too
				b.Errorf("%d call records, want %d", len(recs), want)
			}
			if v, err := db.Verify(context.Background(), ""); err != nil || !v.OK() {
				b.Errorf("verify: %+v, %v", v, err)
			}
		})
	}
}
