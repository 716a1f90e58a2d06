package pins

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/poison"
)

// BenchmarkFirstList5000 is a server that lists 5,000 tools, first seen:
// each is pinned (one transaction) and scanned, which is what the first call
// of the session waits for. The next session's first list finds them
// pinned. The repeated list of the same answer is what every later
// tools/list of a session costs.
func BenchmarkFirstList5000(b *testing.B) {
	var tools []string
	for i := range 5000 {
		tools = append(tools, fmt.Sprintf(`{"name":"tool_%d","description":"Reads record %d of the inventory and returns its fields.","inputSchema":{"type":"object","properties":{"id":{"type":"string","description":"the record's id"}}}}`, i, i))
	}
	list := json.RawMessage(`{"tools":[` + strings.Join(tools, ",") + `]}`)
	// The server's very first list: what its first call waits for. What
	// is written after the comparison, off the calls' path (the tools'
	// sources and the answer remembered for the next session), is waited
	// for with the timer stopped and reported apart, as bg-cpu-ms/op, so
	// that it does not run into the next list's measure. A profile keeps
	// to the list with -tagfocus phase=first (the writes after it carry the
	// label too, being started by it: -ignore 'ToolsListed.func2' leaves
	// them out).
	b.Run("first", func(b *testing.B) {
		var cpu, bg time.Duration
		var gcs uint32
		for range b.N {
			b.StopTimer()
			s := newSession(b, audit.ActionApprove)
			s.hook.Scan = poison.New(nil)
			c, gc := cpuTime(), numGC()
			b.StartTimer()
			pprof.Do(context.Background(), pprof.Labels("phase", "first"), func(ctx context.Context) {
				s.hook.ToolsListed(ctx, list)
			})
			b.StopTimer()
			cpu, gcs = cpu+cpuTime()-c, gcs+numGC()-gc
			c = cpuTime()
			s.hook.touching.Wait()
			bg += cpuTime() - c
			b.StartTimer()
		}
		reportCPU(b, cpu, gcs)
		b.ReportMetric(float64(bg)/float64(b.N)/1e6, "bg-cpu-ms/op")
	})
	// The first list of every later session of the server: the same tools,
	// pinned by an earlier session. Marking them seen happens after the
	// comparison, off the calls' path; sessions start minutes apart, so
	// the last one's is waited for with the timer stopped.
	b.Run("next-session", func(b *testing.B) {
		s := newSession(b, audit.ActionApprove)
		s.hook.Scan = poison.New(nil)
		s.hook.ToolsListed(context.Background(), list)
		last := s.hook
		var cpu time.Duration
		var gcs uint32
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			last.touching.Wait()
			h := s.newHook(audit.ActionApprove)
			h.Scan = s.hook.Scan
			last = h
			c, gc := cpuTime(), numGC()
			b.StartTimer()
			h.ToolsListed(context.Background(), list)
			b.StopTimer()
			cpu, gcs = cpu+cpuTime()-c, gcs+numGC()-gc
			b.StartTimer()
		}
		b.StopTimer()
		last.touching.Wait()
		reportCPU(b, cpu, gcs)
	})
	b.Run("repeated", func(b *testing.B) {
		s := newSession(b, audit.ActionApprove)
		s.hook.Scan = poison.New(nil)
		s.hook.ToolsListed(context.Background(), list)
		b.ResetTimer()
		c, gc := cpuTime(), numGC()
		for range b.N {
			s.hook.ToolsListed(context.Background(), list)
		}
		reportCPU(b, cpuTime()-c, numGC()-gc)
	})
}

// reportCPU adds the CPU time per list (every core's), which a busy
// shared machine changes less than the wall time, and the garbage
// collections per list (run with GOMEMLIMIT=16MiB, the proxy's limit, it
// shows whether the limit makes the collector run back to back).
func reportCPU(b *testing.B, cpu time.Duration, gcs uint32) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
	}
	b.ReportMetric(float64(gcs)/float64(b.N), "gc/op")
}

func numGC() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}
