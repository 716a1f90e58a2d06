package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Attribute names of the MCP semantic conventions, and aim-mcp's own,
// all under one prefix.
const (
	attrMethod      = "mcp.method.name"
	attrSession     = "mcp.session.id"
	attrProtocol    = "mcp.protocol.version"
	attrTool        = "gen_ai.tool.name"
	attrOperation   = "gen_ai.operation.name"
	attrRequestID   = "jsonrpc.request.id"
	attrErrorType   = "error.type"
	attrRPCStatus   = "rpc.response.status_code"
	attrTransport   = "network.transport"
	attrServer      = "aim_mcp.server"
	attrClient      = "aim_mcp.client"
	attrDecision    = "aim_mcp.decision"
	attrRisk        = "aim_mcp.risk"
	attrRule        = "aim_mcp.rule"
	attrReason      = "aim_mcp.reason"
	attrApproval    = "aim_mcp.approval.id"
	attrApprover    = "aim_mcp.approver"
	attrWait        = "aim_mcp.decision.duration"
	attrOutcome     = "aim_mcp.outcome"
	attrArgsDigest  = "aim_mcp.args.digest"
	attrRecordKind  = "aim_mcp.record.kind"
	attrMCPClient   = "aim_mcp.mcp_client.name"
	methodToolsCall = "tools/call"
)

// errorType is the call's error.type: tool_error for an isError result
// (aim-mcp's own refusals are isError results too), the JSON-RPC code
// for an error answer, and aim-mcp's word for a call that never ended.
func errorType(o *mcpproxy.Observed) string {
	switch o.Outcome.Status {
	case "":
		if o.Verdict.Decision == audit.Cancelled {
			return string(audit.CallCancelled)
		}
		return string(audit.ToolError)
	case audit.ToolError:
		return string(audit.ToolError)
	case audit.RPCError:
		return strconv.Itoa(o.Outcome.ErrorCode)
	case audit.CallCancelled, audit.ServerExited:
		return string(o.Outcome.Status)
	}
	return ""
}

// requestID is the JSON-RPC id as the conventions want it: a string id
// without its quotes, a number as written.
func requestID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// span makes the call's span, with the times the proxy saw, and its
// metrics.
func (x *Exporter) span(o *mcpproxy.Observed) {
	c, v := o.Call, o.Verdict
	ctx := context.Background()
	if c.TraceParent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{
			"traceparent": c.TraceParent, "tracestate": c.TraceState})
	}
	name := methodToolsCall
	if c.Tool != "" {
		name += " " + c.Tool
	}
	et := errorType(o)
	attrs := []attribute.KeyValue{
		attribute.String(attrMethod, methodToolsCall),
		attribute.String(attrOperation, "execute_tool"),
		attribute.String(attrTool, c.Tool),
		attribute.String(attrRequestID, requestID(c.ID)),
		attribute.String(attrSession, x.session),
		attribute.String(attrTransport, "pipe"),
		attribute.String(attrServer, x.id.Server),
		attribute.String(attrDecision, string(v.Decision)),
	}
	for k, val := range map[string]string{attrProtocol: c.Client.Protocol, attrRisk: v.Risk, attrRule: v.Source,
		attrApproval: v.ApprovalID, attrApprover: v.Approver, attrOutcome: string(o.Outcome.Status),
		attrArgsDigest: c.ArgsDigest, attrMCPClient: c.Client.Name, attrClient: x.id.Client} {
		if val != "" {
			attrs = append(attrs, attribute.String(k, val))
		}
	}
	if !v.Allow && v.Reason != "" {
		attrs = append(attrs, attribute.String(attrReason, v.Reason))
	}
	if !o.Forwarded.IsZero() {
		attrs = append(attrs, attribute.Float64(attrWait, o.Forwarded.Sub(c.Received).Seconds()))
	}
	if o.Outcome.Status == audit.RPCError {
		attrs = append(attrs, attribute.String(attrRPCStatus, strconv.Itoa(o.Outcome.ErrorCode)))
	}
	if et != "" {
		attrs = append(attrs, attribute.String(attrErrorType, et))
	}
	start := c.Received
	if start.IsZero() {
		start = o.End
	}
	_, sp := x.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	if et != "" {
		desc := o.Outcome.ErrorText
		if o.Outcome.Status == "" {
			desc = v.Reason
		}
		sp.SetStatus(codes.Error, desc)
	}
	sp.End(trace.WithTimestamp(o.End))
	x.spansMade.Add(1)

	ma := []attribute.KeyValue{attribute.String(attrMethod, methodToolsCall), attribute.String(attrTool, c.Tool)}
	if et != "" {
		ma = append(ma, attribute.String(attrErrorType, et))
	}
	if c.Client.Protocol != "" {
		ma = append(ma, attribute.String(attrProtocol, c.Client.Protocol))
	}
	x.dur.Record(ctx, o.End.Sub(start).Seconds(), metric.WithAttributes(ma...))
	x.dec.Add(ctx, 1, metric.WithAttributes(attribute.String(attrDecision, string(v.Decision))))
}

// requestSpan makes the span of a request other than tools/call, which
// has no target: its name is the method.
func (x *Exporter) requestSpan(r *mcpproxy.ObservedRequest) {
	attrs := []attribute.KeyValue{
		attribute.String(attrMethod, r.Method),
		attribute.String(attrRequestID, requestID(r.ID)),
		attribute.String(attrSession, x.session),
		attribute.String(attrTransport, "pipe"),
		attribute.String(attrServer, x.id.Server),
	}
	ma := []attribute.KeyValue{attribute.String(attrMethod, r.Method)}
	if r.Protocol != "" {
		attrs = append(attrs, attribute.String(attrProtocol, r.Protocol))
		ma = append(ma, attribute.String(attrProtocol, r.Protocol))
	}
	if x.id.Client != "" {
		attrs = append(attrs, attribute.String(attrClient, x.id.Client))
	}
	if r.Error {
		code := strconv.Itoa(r.ErrorCode)
		attrs = append(attrs, attribute.String(attrErrorType, code), attribute.String(attrRPCStatus, code))
		ma = append(ma, attribute.String(attrErrorType, code))
	}
	_, sp := x.tracer.Start(context.Background(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(r.Start), trace.WithAttributes(attrs...))
	if r.Error {
		sp.SetStatus(codes.Error, "")
	}
	sp.End(trace.WithTimestamp(r.End))
	x.spansMade.Add(1)
	x.dur.Record(context.Background(), r.End.Sub(r.Start).Seconds(), metric.WithAttributes(ma...))
}

// log sends one audit record as a log record: its data (arguments are
// redacted before a record is made) as a map body, its kind as the event
// name.
func (x *Exporter) log(ev *registry.Event) {
	var r log.Record
	r.SetTimestamp(ev.Time)
	r.SetObservedTimestamp(time.Now())
	r.SetEventName("aim_mcp.audit." + ev.Kind)
	r.SetSeverity(log.SeverityInfo)
	r.SetSeverityText("INFO")
	if ev.Kind == registry.KindDenied || ev.Kind == registry.KindBypass {
		r.SetSeverity(log.SeverityWarn)
		r.SetSeverityText("WARN")
	}
	r.SetBody(toValue(ev.Data))
	attrs := []attribute.KeyValue{
		attribute.String(attrRecordKind, ev.Kind),
		attribute.String(attrServer, x.id.Server),
		attribute.String(attrSession, x.session),
	}
	if ev.Tool != "" {
		attrs = append(attrs, attribute.String(attrTool, ev.Tool))
	}
	if ev.Decision != "" {
		attrs = append(attrs, attribute.String(attrDecision, ev.Decision))
	}
	if len(ev.RequestID) > 0 {
		attrs = append(attrs, attribute.String(attrRequestID, requestID(ev.RequestID)))
	}
	r.AddAttributes(attrs...)
	x.logger.Emit(context.Background(), r)
	x.logsMade.Add(1)
}

// jsonValue is raw JSON decoded, numbers as json.Number.
func jsonValue(raw []byte) any {
	var out any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&out) != nil {
		return string(raw)
	}
	return out
}

// toValue turns a record's data into a log body value, reading the types
// records hold directly and the rest as encoding/json writes them, so the
// body says what the audit log says.
func toValue(v any) attribute.Value {
	switch t := v.(type) {
	case nil:
		return attribute.Value{}
	case json.RawMessage:
		return toValue(jsonValue(t))
	case int:
		return attribute.IntValue(t)
	case int64:
		return attribute.Int64Value(t)
	case float64:
		return attribute.Float64Value(t)
	case []string:
		return attribute.StringSliceValue(t)
	case map[string]string:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kvs := make([]attribute.KeyValue, len(keys))
		for i, k := range keys {
			kvs[i] = attribute.String(k, t[k])
		}
		return attribute.MapValue(kvs...)
	case string:
		return attribute.StringValue(t)
	case bool:
		return attribute.BoolValue(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return attribute.Int64Value(i)
		}
		f, _ := t.Float64()
		return attribute.Float64Value(f)
	case []any:
		vs := make([]attribute.Value, len(t))
		for i, e := range t {
			vs[i] = toValue(e)
		}
		return attribute.SliceValue(vs...)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kvs := make([]attribute.KeyValue, len(keys))
		for i, k := range keys {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(k), Value: toValue(t[k])}
		}
		return attribute.MapValue(kvs...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return attribute.StringValue(fmt.Sprintf("unencodable record data: %v", err))
	}
	return toValue(jsonValue(b))
}

// headLog is a chain head the witness sent: the line as the body, so the
// receiver keeps what "aim-mcp audit verify --witness" reads back.
func (x *Exporter) headLog(line string) {
	var r log.Record
	now := time.Now()
	r.SetTimestamp(now)
	r.SetObservedTimestamp(now)
	r.SetEventName("aim_mcp.chain.head")
	r.SetSeverity(log.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue(line))
	r.AddAttributes(attribute.String(attrServer, x.id.Server), attribute.String(attrSession, x.session))
	x.logger.Emit(context.Background(), r)
	x.logsMade.Add(1)
}
