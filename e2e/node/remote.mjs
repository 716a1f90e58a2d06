// remote.mjs: the official MCP TypeScript SDK client against
// server-everything reached over HTTP, either directly (--url with
// --transport http or sse) or through a stdio bridge (the command after
// "--", such as aim-mcp proxy --url ...). It prints ONE JSON document of
// normalised results, so that a direct run and a bridged run can be
// compared for equality.
//
//   node remote.mjs --url http://127.0.0.1:P/sse --transport sse
//   node remote.mjs -- aim-mcp proxy --server ev --home H --url http://127.0.0.1:P/sse --transport sse
//   node remote.mjs --scenario polling --url http://localhost:3001/mcp   (the SDK's ssePollingExample)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

function parseArgs(argv) {
  const opts = { scenario: "everything", transport: "http" };
  const dd = argv.indexOf("--");
  const own = dd < 0 ? argv : argv.slice(0, dd);
  if (dd >= 0) {
    opts.command = argv[dd + 1];
    opts.args = argv.slice(dd + 2);
  }
  for (let i = 0; i < own.length; i++) {
    const val = () => own[++i];
    switch (own[i]) {
      case "--url": opts.url = val(); break;
      case "--transport": opts.transport = val(); break;
      case "--scenario": opts.scenario = val(); break;
      default: usage(`unknown option ${own[i]}`);
    }
  }
  if (!opts.url === !opts.command) usage("give --url or a bridge command after --");
  return opts;
}

function usage(msg) {
  process.stderr.write(`remote.mjs: ${msg}\nusage: node remote.mjs [--scenario everything|polling] (--url URL [--transport http|sse] | -- CMD ARGS...)\n`);
  process.exit(2);
}

function transportFor(opts) {
  if (opts.command) {
    return new StdioClientTransport({ command: opts.command, args: opts.args, env: { ...getDefaultEnvironment(), ...process.env }, stderr: "inherit" });
  }
  const u = new URL(opts.url);
  return opts.transport === "sse" ? new SSEClientTransport(u) : new StreamableHTTPClientTransport(u);
}

// text is what a tool result says, its text parts joined.
const text = (r) => ({ isError: !!r.isError, text: (r.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n") });

async function everything(client) {
  const out = {};
  out.server = client.getServerVersion()?.name;
  out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  out.echo = text(await client.callTool({ name: "echo", arguments: { message: "hello over the bridge" } }));
  out.sum = text(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }));
  out.ping = await client.ping();
  // Progress notifications travel on the request's own stream.
  const progress = [];
  out.longRunning = text(await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 0.3, steps: 3 } }, undefined,
    { onprogress: (p) => progress.push(p.progress) }));
  // The server's last progress may come after its result: only the first
  // is certain.
  out.progressFirst = progress[0];
  // A request from the server to the client, answered by the client.
  out.sampling = text(await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "say hi", maxTokens: 5 } }));
  out.resources = (await client.listResources()).resources.slice(0, 3).map((r) => r.uri);
  if (out.resources.length > 0) {
    const r = await client.readResource({ uri: out.resources[0] });
    out.firstResource = r.contents.map((c) => c.uri);
  }
  out.prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
  return out;
}

// polling: the SDK's ssePollingExample closes the call's stream midway
// and expects the client to resume it with Last-Event-ID.
async function polling(client, logs) {
  const out = {};
  out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  out.longTask = text(await client.callTool({ name: "long-task", arguments: {} }));
  out.logs = logs;
  return out;
}

const opts = parseArgs(process.argv.slice(2));
const client = new Client({ name: "aim-mcp-remote-driver", version: "1.0.0" }, { capabilities: { sampling: {} } });
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  model: "driver", role: "assistant", content: { type: "text", text: "hi from the driver" },
}));
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(String(n.params.data)); });
const transport = transportFor(opts);
try {
  await client.connect(transport);
  const out = opts.scenario === "polling" ? await polling(client, logs) : await everything(client);
  process.stdout.write(JSON.stringify(out, null, 1) + "\n");
} finally {
  await client.close();
}
