// Command agent is a small Go agent secured with the aim package: it
// tracks a low-risk action, which runs at once, and a high-risk one, which
// waits for a person to run "aim-mcp approve ID" (or answer in the
// dashboard) for as long as -wait allows. Run it again after approving and
// the action runs once. It keeps everything in aim-mcp's home
// ($AIM_MCP_HOME, or -home), beside the proxies' records.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/opena2a-org/aim-mcp/aim"
)

func main() {
	homeDir := flag.String("home", "", "aim-mcp's home (default $AIM_MCP_HOME)")
	wait := flag.Duration("wait", 30*time.Second, "how long the high-risk action waits for a person")
	flag.Parse()
	if err := run(*homeDir, *wait); err != nil {
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
		os.Exit(1)
	}
}

func run(homeDir string, wait time.Duration) error {
	ctx := context.Background()
	var opts []aim.Option
	if homeDir != "" {
		opts = append(opts, aim.WithHome(homeDir))
	}
	agent, err := aim.Secure(ctx, "example-agent", opts...)
	if err != nil {
		return err
	}
	defer agent.Close()
	fmt.Printf("secured %s (id %s, key %s)\n", agent.Name(), agent.ID(), agent.Fingerprint())

	err = agent.Track(ctx, "get_weather", aim.Low, func(ctx context.Context) error {
		fmt.Println("get_weather ran: 21°C in Paris")
		return nil
	}, aim.WithArgs(map[string]any{"city": "Paris"}))
	if err != nil {
		return err
	}

	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err = agent.Track(wctx, "delete_report", aim.High, func(ctx context.Context) error {
		fmt.Println("delete_report ran: report 42 deleted")
		return nil
	}, aim.WithArgs(map[string]any{"report": 42}))
	var timeout *aim.ApprovalTimeoutError
	var denied *aim.DeniedError
	switch {
	case errors.As(err, &timeout):
		fmt.Printf("delete_report waits for approval %s: run \"aim-mcp approve %s\", then run this agent again\n",
			timeout.ApprovalID, timeout.ApprovalID)
	case errors.As(err, &denied):
		fmt.Printf("delete_report was refused: %s\n", denied.Reason)
	case err != nil:
		return err
	}

	score, err := agent.TrustScore(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("trust score %.2f\n", score.Overall)
	logs, err := agent.AuditLogs(ctx, aim.LogFilter{Limit: 10})
	if err != nil {
		return err
	}
	for _, r := range logs {
		fmt.Printf("%s | %-13s | %-7s | %s\n", r.Time.Format(time.RFC3339), r.Tool, r.Kind, r.Decision)
	}
	return nil
}
