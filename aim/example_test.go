package aim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/opena2a-org/aim-mcp/aim"
)

// An agent secures itself once, then tracks each action: a low-risk one
// runs at once, and its call and outcome are signed into the audit chain.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "aim-example-") // leave WithHome out to use $AIM_MCP_HOME
	defer os.RemoveAll(dir)

	agent, err := aim.Secure(ctx, "weather-agent", aim.WithHome(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()

	err = agent.Track(ctx, "get_weather", aim.Low, func(ctx context.Context) error {
		fmt.Println("fetching the weather")
		return nil
	}, aim.WithArgs(map[string]any{"city": "Paris"}))
	fmt.Println("error:", err)

	logs, _ := agent.AuditLogs(ctx, aim.LogFilter{Action: "get_weather"})
	for _, r := range logs {
		fmt.Println(r.Kind, r.Decision)
	}
	// Output:
	// fetching the weather
	// error: <nil>
	// call allow
	// outcome success
}

// A high-risk action waits for a person (`aim-mcp approve ID`, or the
// dashboard) until the context's deadline. Here nobody answers: the action
// does not run, and the error names the approval that is still waiting.
func ExampleAgent_Track_approval() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "aim-example-")
	defer os.RemoveAll(dir)
	agent, err := aim.Secure(ctx, "database-agent", aim.WithHome(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()

	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err = agent.Track(ctx, "delete_all_users", aim.Critical, func(ctx context.Context) error {
		fmt.Println("deleting every user") // never printed
		return nil
	})
	var timeout *aim.ApprovalTimeoutError
	if errors.As(err, &timeout) {
		fmt.Println("waiting for a person:", timeout.Action, timeout.ApprovalID != "")
	}
	// Output:
	// waiting for a person: delete_all_users true
}

// VerifyAction asks the policy without running or recording anything.
func ExampleAgent_VerifyAction() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "aim-example-")
	defer os.RemoveAll(dir)
	agent, err := aim.Secure(ctx, "files-agent", aim.WithHome(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()

	for _, action := range []string{"read_file", "delete_file"} {
		d, _ := agent.VerifyAction(ctx, action, "/tmp/report.txt")
		fmt.Println(action, d.Risk, d.Action)
	}
	// Output:
	// read_file low allow
	// delete_file high approve
}

// A Go MCP server protects its own tools: each call is decided, recorded
// and, when the policy says so, held for a person, with the server's
// identity. Under "aim-mcp proxy" the middleware steps aside and the
// proxy records.
func ExampleToolMiddleware() {
	ctx := context.Background()
	agent, err := aim.Secure(ctx, "notes")
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	s := server.NewMCPServer("notes", "1.0.0", server.WithToolHandlerMiddleware(aim.ToolMiddleware(agent)))
	s.AddTool(mcp.NewTool("add_note", mcp.WithString("text", mcp.Required()), mcp.WithDestructiveHintAnnotation(false)),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("saved"), nil
		})
	if err := server.ServeStdio(s); err != nil {
		log.Fatal(err)
	}
}

// A Go MCP server built on the official SDK protects its tools in-process
// the same way, with a receiving middleware.
func ExampleSDKMiddleware() {
	ctx := context.Background()
	agent, err := aim.Secure(ctx, "notes", aim.WithAgentType(aim.MCPServer))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	s := sdk.NewServer(&sdk.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	s.AddReceivingMiddleware(aim.SDKMiddleware(agent))
	no := false
	s.AddTool(&sdk.Tool{Name: "add_note", InputSchema: map[string]any{"type": "object"}, Annotations: &sdk.ToolAnnotations{DestructiveHint: &no}},
		func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "saved"}}}, nil
		})
	if err := s.Run(ctx, &sdk.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}

// A compliance report of the agent's own actions for the last week, as
// "aim-mcp report --server NAME" writes it.
func ExampleAgent_ComplianceReport() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "aim-example-")
	defer os.RemoveAll(dir)
	agent, err := aim.Secure(ctx, "billing-agent", aim.WithHome(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	agent.Track(ctx, "lookup_invoice", aim.Low, func(context.Context) error { return nil })

	until := time.Now()
	b, err := agent.ComplianceReport(ctx, "soc2", until.AddDate(0, 0, -7), until, "json")
	if err != nil {
		log.Fatal(err)
	}
	var r struct {
		Scope string `json:"scope"`
		Calls []any  `json:"calls"`
	}
	json.Unmarshal(b, &r)
	fmt.Println(r.Scope, len(r.Calls))
	// Output: server billing-agent (go-sdk) 1
}
