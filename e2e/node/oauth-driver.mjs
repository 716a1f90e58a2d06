#!/usr/bin/env node
// OAuth driver: the official MCP TypeScript SDK client over stdio to a bridge
// (aim-mcp proxy --url ...), used by e2e/oauth_test.go and as the client
// command of the MCP conformance suite, which appends the scenario server's
// URL to the command line: "{URL}" in the bridge's arguments is replaced by it.
//
//   node oauth-driver.mjs [--call NAME=JSON ...] [--call-all] -- CMD ARGS... [URL]
//
// With MCP_CONFORMANCE_CONTEXT naming a client_id (a pre-registered client),
// "--oauth-client-id ID" goes after "proxy" and the secret into
// AIM_MCP_OAUTH_CLIENT_SECRET.
//
// Prints one JSON document: {"tools": [...], "calls": [{name, isError, text}], "error"}.
// Exits 1 when the connection or the tool list fails.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const argv = process.argv.slice(2);
const dd = argv.indexOf("--");
if (dd < 0 || dd === argv.length - 1) {
  console.error("usage: node oauth-driver.mjs [--call NAME=JSON ...] [--call-all] -- CMD ARGS... [URL]");
  process.exit(2);
}
const own = argv.slice(0, dd);
let cmd = argv.slice(dd + 1);
const calls = [];
let callAll = false;
for (let i = 0; i < own.length; i++) {
  if (own[i] === "--call") {
    const [name, ...rest] = own[++i].split("=");
    calls.push({ name, args: rest.length ? JSON.parse(rest.join("=")) : {} });
  } else if (own[i] === "--call-all") {
    callAll = true;
  }
}
const last = cmd[cmd.length - 1];
if (cmd.includes("{URL}") && /^https?:\/\//.test(last)) {
  cmd = cmd.slice(0, -1).map((a) => (a === "{URL}" ? last : a));
}

// The conformance suite's pre-registered client: its id as the bridge's flag,
// its secret in the environment, never in argv.
const env = { ...process.env };
try {
  const ctx = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}");
  const at = cmd.indexOf("proxy");
  if (ctx.client_id && at >= 0) {
    cmd.splice(at + 1, 0, "--oauth-client-id", ctx.client_id);
    if (ctx.client_secret) env.AIM_MCP_OAUTH_CLIENT_SECRET = ctx.client_secret;
  }
} catch {}

// A value of the schema's type, for calling a tool without knowing it.
function sample(schema) {
  const out = {};
  for (const [k, p] of Object.entries(schema?.properties ?? {})) {
    if (!(schema.required ?? []).includes(k)) continue;
    out[k] = p.type === "number" || p.type === "integer" ? 1 : p.type === "boolean" ? true : p.type === "object" ? {} : p.type === "array" ? [] : "hi";
  }
  return out;
}

const doc = { tools: [], calls: [], error: null };
const transport = new StdioClientTransport({ command: cmd[0], args: cmd.slice(1), env, stderr: "inherit" });
const client = new Client({ name: "aim-mcp-oauth-driver", version: "1.0.0" });
let code = 0;
try {
  await client.connect(transport, { timeout: 90_000 });
  const { tools } = await client.listTools(undefined, { timeout: 90_000 });
  doc.tools = tools.map((t) => t.name).sort();
  const todo = callAll ? tools.map((t) => ({ name: t.name, args: sample(t.inputSchema) })) : calls;
  for (const c of todo) {
    try {
      const r = await client.callTool({ name: c.name, arguments: c.args }, undefined, { timeout: 90_000 });
      doc.calls.push({ name: c.name, isError: !!r.isError, text: (r.content ?? []).map((x) => x.text ?? "").join("") });
    } catch (e) {
      doc.calls.push({ name: c.name, isError: true, text: String(e.message ?? e) });
    }
  }
} catch (e) {
  doc.error = String(e.message ?? e);
  code = 1;
} finally {
  await client.close().catch(() => {});
}
console.log(JSON.stringify(doc));
process.exit(code);
