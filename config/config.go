// Package config reads aim-mcp's settings: config.yaml (in the XDG config
// directory, or ~/.aim/config.yaml where the AIM SDK keeps it), then the AIM_*
// environment variables on top. Unknown keys are errors, so a typo in a
// policy never silently loosens it.
//
// [Load] returns one [Config]. The proxy loads it once at start and passes
// it on: to policy, for the default risk, the action of each risk level, the
// rules that stand beside those in the registry and the fail mode; to pins,
// for the drift action; and to the remote AIM client, for its URL, key and
// timeouts. The CLI's commands load it afresh each time they run.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adrg/xdg"
	"github.com/opena2a-org/aim-mcp/audit"
	"go.yaml.in/yaml/v3"
)

// Config is everything config.yaml may say.
type Config struct {
	AIMURL        string        `yaml:"aim_url"`
	APIKey        string        `yaml:"api_key"`
	Timeout       time.Duration `yaml:"timeout"`
	CallTimeout   time.Duration `yaml:"call_timeout"` // the budget of a remote check while a call waits
	RetryAttempts int           `yaml:"retry_attempts"`
	Debug         bool          `yaml:"debug"`
	LogLevel      string        `yaml:"log_level"`
	// AIMVerifyTTL is how long AIM's answer about one tool of one agent
	// is reused by every proxy of the home before AIM is asked again: the
	// request budget, and how late a grant or revocation in AIM takes
	// effect. 0 asks AIM about every call.
	AIMVerifyTTL time.Duration `yaml:"aim_verify_ttl"`
	// AIMLogOutcomes sends each call's outcome to AIM's log-action, which
	// at the time of writing answers success and stores nothing; it costs
	// a request of the budget per call, so it is off by default.
	AIMLogOutcomes bool `yaml:"aim_log_outcomes"`

	// FailMode says what low and medium risk calls do when the registry
	// cannot be reached: "closed" (deny, the default) or "open" (allow).
	// High and critical calls are always denied then.
	FailMode string `yaml:"fail_mode"`
	// DefaultRisk is the risk of a tool nothing else classifies.
	DefaultRisk string `yaml:"default_risk"`
	// Actions maps each risk level to allow, approve or deny.
	Actions map[string]audit.Action `yaml:"actions"`
	// ApprovalWait is how long a call waits for a human before the client
	// is told to ask again; it must stay under the client's own timeout.
	ApprovalWait time.Duration `yaml:"approval_wait"`
	// StopGrace is how long a server has to exit by itself after its client
	// closed stdin, before it is sent SIGTERM. A server that starts slowly
	// (a runtime that takes seconds to load) may need more than the default.
	StopGrace time.Duration `yaml:"stop_grace"`
	// ApprovalTTL is how long a pending or granted approval lives.
	ApprovalTTL time.Duration `yaml:"approval_ttl"`
	// ApprovalRate caps the approval prompts per server per minute.
	ApprovalRate int `yaml:"approval_rate"`
	// DriftAction is what calls to a changed or new tool do until the
	// change is accepted: approve (default), deny or allow.
	DriftAction audit.Action `yaml:"drift_action"`
	// Policy rules, in addition to those added with "aim-mcp policy add".
	Policy []Rule `yaml:"policy"`

	// DashboardAddr is where "aim-mcp watch" serves the dashboard, and where
	// "aim-mcp dashboard" listens by default: a stable loopback address, so
	// the link in a notification keeps working.
	DashboardAddr string `yaml:"dashboard_addr"`
	// Notify says how a person learns that a call waits for them when the
	// client cannot ask: "desktop" (a desktop notification, the default) or
	// "none".
	Notify string `yaml:"notify"`
	// Scan configures the scanner of what servers tell the model. Tool
	// definitions, prompts, resources and server requests are always
	// scanned, and escapes always neutralised; tool results only when asked.
	Scan Scan `yaml:"scan"`
	// OTel turns on the OpenTelemetry export of tool calls (spans and
	// metrics) and audit records (logs). Nil leaves it to the standard
	// OTEL_EXPORTER_OTLP_* variables, and off without them.
	OTel *OTel `yaml:"otel"`

	// Path is the file the config came from, "" when none was found.
	Path string `yaml:"-"`
}

// Rule is one policy rule as written in config.yaml.
// Scan is the scan: part of config.yaml.
type Scan struct {
	// Results runs the phrase rules over tool results too (they are large
	// and mostly benign, so it is off by default).
	Results bool `yaml:"results"`
	// ResultAction is what a hard finding in a result does: warn (the
	// result goes through, recorded and alerted) or block (the client gets
	// an isError text instead).
	ResultAction string `yaml:"result_action"`
}

// Result actions.
const (
	ResultWarn  = "warn"
	ResultBlock = "block"
)

type Rule struct {
	Server string `yaml:"server"`
	Tool   string `yaml:"tool"`
	When   string `yaml:"when"` // a condition in its --when form: "/json/pointer=value" (policy.ParseWhen)
	Risk   string `yaml:"risk"`
	Action string `yaml:"action"`
}

// Defaults returns the settings that hold when nothing says otherwise.
func Defaults() Config {
	return Config{
		Timeout:       30 * time.Second,
		CallTimeout:   5 * time.Second,
		RetryAttempts: 3,
		LogLevel:      "warn",
		AIMVerifyTTL:  60 * time.Second,
		FailMode:      "closed",
		DefaultRisk:   "medium",
		Actions:       map[string]audit.Action{"low": audit.ActionAllow, "medium": audit.ActionAllow, "high": audit.ActionApprove, "critical": audit.ActionApprove},
		ApprovalWait:  50 * time.Second,
		StopGrace:     2 * time.Second,
		ApprovalTTL:   10 * time.Minute,
		ApprovalRate:  10,
		DriftAction:   audit.ActionApprove,
		Scan:          Scan{ResultAction: ResultWarn},
		DashboardAddr: DefaultDashboardAddr,
		Notify:        NotifyDesktop,
	}
}

// DefaultDashboardAddr is the dashboard's address when config.yaml names none.
const DefaultDashboardAddr = "127.0.0.1:47321"

// Notify values.
const (
	NotifyDesktop = "desktop"
	NotifyNone    = "none"
)

// Candidates are the places config.yaml is looked for, in order:
// $AIM_MCP_CONFIG, the XDG config directory, then ~/.aim/config.yaml.
func Candidates() []string {
	var out []string
	if p := os.Getenv("AIM_MCP_CONFIG"); p != "" {
		out = append(out, p)
	}
	out = append(out, filepath.Join(xdg.ConfigHome, "aim-mcp", "config.yaml"))
	if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, ".aim", "config.yaml"))
	}
	return out
}

// Load reads the first config file that exists (none is fine) and applies
// the environment on top. An error that is an *[OTelError] is about the
// otel: block alone: the rest of the config is valid and in force, and
// OTel is nil (export off), so a telemetry typo never changes a policy.
func Load() (Config, error) {
	c := Defaults()
	var otelErr error
	for _, p := range Candidates() {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		if err := c.parse(data); err != nil {
			if !errors.As(err, new(*OTelError)) {
				return c, fmt.Errorf("config %q: %w", p, err)
			}
			otelErr = fmt.Errorf("config %q: %w", p, err)
		}
		c.Path = p
		break
	}
	if err := c.applyEnv(os.Getenv); err != nil {
		return c, err
	}
	if otelErr != nil {
		c.OTel = nil
		if err := c.Validate(); err != nil {
			return c, err
		}
		return c, otelErr
	}
	err := c.Validate()
	if errors.As(err, new(*OTelError)) {
		c.OTel = nil
	}
	return c, err
}

// Parse reads config.yaml text over the defaults (for tests and tools).
func Parse(data []byte) (Config, error) {
	c := Defaults()
	if err := c.parse(data); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func (c *Config) parse(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	actions := c.Actions
	c.Actions = nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem would break the one-line error rule.
			msgs := make([]string, len(te.Errors))
			inOTel := true
			for i, m := range te.Errors {
				if !strings.Contains(m, "config.OTel") {
					inOTel = false
				} else {
					m = strings.Replace(m, " in type config.OTel", "", 1)
					m = strings.Replace(m, "config.OTel", "an otel: block", 1)
				}
				m = strings.Replace(m, " in type config.Config", "", 1)
				if i := strings.Index(m, "field "); i >= 0 && strings.HasSuffix(m, " not found") {
					m = fmt.Sprintf("%sunknown key %q", m[:i], strings.TrimSuffix(m[i+len("field "):], " not found"))
				}
				msgs[i] = m
			}
			if inOTel {
				return &OTelError{strings.Join(msgs, "; ")}
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// Actions given for some levels keep the defaults of the others.
	for k, v := range actions {
		if _, ok := c.Actions[k]; !ok {
			if c.Actions == nil {
				c.Actions = map[string]audit.Action{}
			}
			c.Actions[k] = v
		}
	}
	return nil
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if v := getenv("AIM_URL"); v != "" {
		c.AIMURL = v
	}
	if v := getenv("AIM_API_KEY"); v != "" {
		c.APIKey = v
	}
	if v := getenv("AIM_DEBUG"); v != "" {
		c.Debug = v == "1" || strings.EqualFold(v, "true") || strings.EqualFold(v, "yes")
	}
	if v := getenv("AIM_TIMEOUT"); v != "" {
		d, err := parseSeconds(v)
		if err != nil {
			return fmt.Errorf("AIM_TIMEOUT: %w", err)
		}
		c.Timeout = d
	}
	if v := getenv("AIM_RETRY_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("AIM_RETRY_ATTEMPTS: %q is not a count", v)
		}
		c.RetryAttempts = n
	}
	return nil
}

// parseSeconds reads "30" (seconds, as the AIM SDK reads AIM_TIMEOUT) or "30s".
func parseSeconds(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (30 or 30s)", v)
	}
	return d, nil
}

// Risk levels and actions, as written in config and on the command line.
var (
	RiskLevels = []string{"low", "medium", "high", "critical"}
)

// Validate checks every enumerated value.
func (c Config) Validate() error {
	if c.FailMode != "closed" && c.FailMode != "open" {
		return fmt.Errorf("fail_mode %q: want closed or open", c.FailMode)
	}
	if !slices.Contains(RiskLevels, c.DefaultRisk) {
		return fmt.Errorf("default_risk %q: want one of %s", c.DefaultRisk, strings.Join(RiskLevels, ", "))
	}
	for k, v := range c.Actions {
		if !slices.Contains(RiskLevels, k) {
			return fmt.Errorf("actions: unknown risk level %q: want one of %s", k, strings.Join(RiskLevels, ", "))
		}
		if !slices.Contains(audit.Actions, v) {
			return fmt.Errorf("actions.%s %q: want one of %s", k, v, actionList())
		}
	}
	if !slices.Contains(audit.Actions, c.DriftAction) {
		return fmt.Errorf("drift_action %q: want one of %s", c.DriftAction, actionList())
	}
	if c.AIMVerifyTTL < 0 {
		return errors.New("aim_verify_ttl must not be negative")
	}
	if c.Scan.ResultAction != ResultWarn && c.Scan.ResultAction != ResultBlock {
		return fmt.Errorf("scan.result_action %q: want warn or block", c.Scan.ResultAction)
	}
	if c.Notify != NotifyDesktop && c.Notify != NotifyNone {
		return fmt.Errorf("notify %q: want desktop or none", c.Notify)
	}
	if _, port, err := net.SplitHostPort(c.DashboardAddr); err != nil || port == "" {
		return fmt.Errorf("dashboard_addr %q: want HOST:PORT, such as %s", c.DashboardAddr, DefaultDashboardAddr)
	}
	if c.StopGrace <= 0 {
		return fmt.Errorf("stop_grace %s: want a positive duration, such as 2s", c.StopGrace)
	}
	if c.ApprovalWait < 0 || c.ApprovalTTL <= 0 || c.ApprovalRate < 0 {
		return errors.New("approval_wait, approval_ttl and approval_rate must be positive")
	}
	// Last: Load relies on an OTelError meaning all else is valid.
	return c.OTel.validate()
}

// actionList is the actions as an error names them: "allow, approve, deny".
func actionList() string {
	names := make([]string, len(audit.Actions))
	for i, a := range audit.Actions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}
