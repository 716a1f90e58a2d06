//go:build unix

package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVerify is a full `audit verify` of 20,000 call and outcome
// records of one server, the shape scripts/bench-scale.sh generates, in
// batches of 1 (a proxy used by hand: each record moved, and signed, on
// its own) and of 24 (a proxy under load: one signature a batch). Its
// records/s metric is per wall second: compare it with the CPU time of the
// run, the machine may be shared: cpu-records/s is per CPU second of the
// process (user+sys, all cores), which load on the machine hardly moves.
func BenchmarkVerify(b *testing.B) {
	for _, per := range []int{1, 24} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) { benchmarkVerify(b, per) })
	}
}

func benchmarkVerify(b *testing.B, per int) {
	const n = 20000
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "aim.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, _, err := db.Register(ctx, Registration{Client: "c", Name: "everything", Command: "npx"})
	if err != nil {
		b.Fatal(err)
	}
	key, err := db.Key(s)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("hello ", 8)
	for done := 0; done < n; done += 1000 {
		batch := make([]Event, 0, 1000)
		for k := done; k < done+1000; k++ {
			if k%2 == 0 {
				batch = append(batch, Event{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "echo", Decision: "allow",
					RequestID: []byte(fmt.Sprint(k)), Data: map[string]any{"args": map[string]string{"message": text}}})
			} else {
				batch = append(batch, Event{ServerID: s.ID, Server: s.Name, Kind: KindOutcome, Tool: "echo", Decision: "success",
					RequestID: []byte(fmt.Sprint(k - 1)), Data: map[string]any{"duration_ms": 1}})
			}
		}
		for rest := batch; len(rest) > 0; rest = rest[min(per, len(rest)):] {
			if _, err := db.AppendAll(ctx, key, rest[:min(per, len(rest))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		v, err := db.Verify(ctx, "")
		if err != nil || !v.OK() || v.Records != n {
			b.Fatalf("Verify = %+v, %v; want %d records intact", v, err, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n*b.N)/(cpuTime()-cpu0).Seconds(), "cpu-records/s")
}

// cpuTime is the CPU time (user+sys) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
