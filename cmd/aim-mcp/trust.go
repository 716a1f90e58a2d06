package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/trust"
)

const trustUsage = `
Usage: aim-mcp trust SERVER [--detailed] [--json]

Prints the server's trust score, 0.0 to 1.0: the weighted sum of eight
factors (the AIM backend's), each measured from the server's own record of
the last 30 days (from the UTC midnight 30 days ago). --detailed shows each factor's value, weight,
contribution and the evidence behind it.

  verification_status 0.25  registered, key present and valid, records verify
  uptime              0.15  sessions that ended cleanly, vs crashes and failed starts
  success_rate        0.15  calls that returned a result without error
  security_alerts     0.15  bypass attempts, drift and policy denials, by severity
  compliance          0.10  every call has signed call and outcome records; the chain verifies
  age                 0.10  days since registration, in steps (0.3, 0.5 at 7, 0.75 at 30, 1.0 at 90)
  drift_detection     0.05  1.0 when the tool pins are unchanged or accepted
  user_feedback       0.05  calls a person approved, vs denied

A factor with no evidence in the window is neutral (0.5) and says so.

Flags:
  --detailed     each factor, its evidence, and what lowers the score
  --json         print JSON: {"overall": ..., "factors": {...}, "evidence": {...}}
  --client NAME  the server's client, when several clients have a server of that name
  --home DIR     aim-mcp's data directory
`

func runTrust(ctx context.Context, e env, args []string) error {
	fs := flags(e, "trust", trustUsage)
	detailed := fs.Bool("detailed", false, "")
	asJSON := fs.Bool("json", false, "")
	client := fs.String("client", "", "")
	homeFlag := fs.String("home", "", "")
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{cmd: "trust", msg: "trust needs a SERVER"}
	}
	if len(pos) > 1 {
		return &usageError{cmd: "trust", msg: fmt.Sprintf("unexpected argument %q", pos[1])}
	}
	dir, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	srv, err := serverNamed(ctx, db, pos[0], *client)
	if err != nil {
		return err
	}
	s, err := (&trust.Source{DB: db}).Score(ctx, srv)
	if err != nil {
		return err
	}
	aimScore := aimTrustOf(ctx, e, dir, db, srv)
	if *asJSON {
		var v any = struct {
			trust.Score
			AIM *aimTrustView `json:"aim,omitempty"`
		}{s, aimScore}
		if !*detailed {
			v = struct {
				Server       string        `json:"server"`
				Client       string        `json:"client"`
				ServerID     string        `json:"server_id"`
				Overall      float64       `json:"overall"`
				CalculatedAt time.Time     `json:"calculated_at"`
				AIM          *aimTrustView `json:"aim,omitempty"`
			}{s.Server, s.Client, s.ServerID, s.Overall, s.CalculatedAt, aimScore}
		}
		out, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	fmt.Fprintf(e.stdout, "trust score of %q (%s): %.2f\n", s.Server, s.Client, s.Overall)
	if aimScore != nil {
		fmt.Fprintln(e.stdout, aimScore.line()) // AIM's own score, beside the local one
	}
	reasons := s.Reasons()
	if !*detailed {
		if len(reasons) > 0 {
			fmt.Fprintf(e.stdout, "lowered most by %s: %s\n", reasons[0].Name, reasons[0].Evidence)
		}
		if s.Note != "" {
			fmt.Fprintf(e.stdout, "%s\n", s.Note)
		}
		fmt.Fprintln(e.stdout, "run with --detailed for each factor and its evidence")
		return nil
	}
	fmt.Fprintf(e.stdout, "from the record of %s to %s\n\n", s.Since.Local().Format("2006-01-02 15:04"), s.CalculatedAt.Local().Format("2006-01-02 15:04"))
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if aimScore == nil || len(aimScore.Factors) == 0 {
		fmt.Fprintln(tw, "FACTOR\tVALUE\tWEIGHT\tCONTRIBUTION\tEVIDENCE")
		for _, f := range s.List {
			fmt.Fprintf(tw, "%s\t%.3f\t%.2f\t%.3f\t%s\n", f.Name, f.Value, f.Weight, f.Contribution, f.Evidence)
		}
		fmt.Fprintf(tw, "overall\t%.3f\t1.00\t%.3f\t\n", s.Overall, s.Overall)
	} else {
		// AIM's factors beside the local ones: the same eight names.
		fmt.Fprintln(tw, "FACTOR\tVALUE\tWEIGHT\tCONTRIBUTION\tAIM\tEVIDENCE")
		for _, f := range s.List {
			a := "-"
			if v, ok := aimScore.Factors[f.Name]; ok {
				a = fmt.Sprintf("%.3f", v)
			}
			fmt.Fprintf(tw, "%s\t%.3f\t%.2f\t%.3f\t%s\t%s\n", f.Name, f.Value, f.Weight, f.Contribution, a, f.Evidence)
		}
		fmt.Fprintf(tw, "overall\t%.3f\t1.00\t%.3f\t%.3f\t\n", s.Overall, s.Overall, *aimScore.Score)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Note != "" {
		fmt.Fprintf(e.stdout, "\n%s\n", s.Note)
	}
	if len(reasons) > 0 {
		fmt.Fprintln(e.stdout, "\nlowered by:")
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, f := range reasons {
			fmt.Fprintf(tw, "  %s\t-%.3f\t%s\n", f.Name, f.Loss(), f.Evidence)
		}
		return tw.Flush()
	}
	return nil
}
