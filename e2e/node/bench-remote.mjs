#!/usr/bin/env node
// Remote benchmark: the official MCP SDK client against server-everything
// serving streamable HTTP on loopback, three ways in one run, interleaved
// so that order and machine noise do not favour one path:
//
//   direct      StreamableHTTPClientTransport straight to the server
//   aim-mcp     aim-mcp proxy --server everything-remote --home H --url URL   (stdio bridge)
//   mcp-remote  node mcp-remote/dist/proxy.js URL --allow-http --transport http-only   (stdio bridge)
//
// Usage (scripts/bench.sh builds the binary and calls this):
//   node bench-remote.mjs --aim-bin PATH --home DIR [--calls N] [--json FILE]
//
// It prints p50/p90/p99 per path for tools/call echo and ping, each
// bridge's p50 minus direct's in ms, and aim-mcp's p50 and p99 over
// mcp-remote's.

import { setMaxListeners } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { f2, f3, measure, ops, stats } from "./benchlib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const everything = path.join(here, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const mcpRemote = path.join(here, "node_modules/mcp-remote/dist/proxy.js");

function parseArgs(argv) {
  const o = { calls: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i];
    switch (argv[i]) {
      case "--aim-bin": o.aimBin = v(); break;
      case "--home": o.home = v(); break;
      case "--calls": o.calls = Number(v()); break;
      case "--json": o.json = v(); break;
      default:
        process.stderr.write(`bench-remote.mjs: unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (!o.aimBin || !o.home) {
    process.stderr.write("usage: node bench-remote.mjs --aim-bin PATH --home DIR [--calls N] [--json FILE]\n");
    process.exit(2);
  }
  return o;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function listening(port) {
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`server-everything did not listen on port ${port} within 30 s`);
}

async function connect(name, transport) {
  const client = new Client({ name: `aim-mcp-bench-${name}`, version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);
  return { name, client, transport };
}

function report(title, lat) {
  const st = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, stats(v)]));
  const d = st.direct, a = st["aim-mcp"], m = st["mcp-remote"];
  console.log(`\n${title}  (${d.n} per path, ms)`);
  console.log("  path          p50      p90      p99     mean      max");
  for (const [k, s] of Object.entries(st)) {
    console.log(`  ${k.padEnd(10)} ${f3(s.p50).padStart(7)}  ${f3(s.p90).padStart(7)}  ${f3(s.p99).padStart(7)}  ${f3(s.mean).padStart(7)}  ${f3(s.max).padStart(7)}`);
  }
  const derived = {
    aimMinusDirectMs: { p50: a.p50 - d.p50, p99: a.p99 - d.p99 },
    mcpRemoteMinusDirectMs: { p50: m.p50 - d.p50, p99: m.p99 - d.p99 },
    aimOverMcpRemote: { p50: a.p50 / m.p50, p99: a.p99 / m.p99 },
  };
  console.log(`  aim-mcp - direct     p50 ${f3(derived.aimMinusDirectMs.p50)} ms  p99 ${f3(derived.aimMinusDirectMs.p99)} ms`);
  console.log(`  mcp-remote - direct  p50 ${f3(derived.mcpRemoteMinusDirectMs.p50)} ms  p99 ${f3(derived.mcpRemoteMinusDirectMs.p99)} ms`);
  console.log(`  aim-mcp / mcp-remote p50 ${f2(derived.aimOverMcpRemote.p50)}x  p99 ${f2(derived.aimOverMcpRemote.p99)}x`);
  return { stats: st, ...derived };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  // The SDK's HTTP client adds an abort listener per request to one signal
  // and never removes it: thousands of warnings would cost the direct path
  // time on stderr.
  setMaxListeners(0);
  const t0 = Date.now();
  const port = await freePort();
  const server = spawn("node", [everything, "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" });
  const stopServer = () => { try { server.kill(); } catch {} };
  process.on("exit", stopServer);
  await listening(port);
  const url = `http://127.0.0.1:${port}/mcp`;
  // mcp-remote keeps its state under ~/.mcp-auth: a home of its own.
  const remoteHome = fs.mkdtempSync(path.join(os.tmpdir(), "aim-bench-mcp-remote-"));
  const env = getDefaultEnvironment();
  const paths = [
    await connect("direct", new StreamableHTTPClientTransport(new URL(url))),
    await connect("aim-mcp", new StdioClientTransport({ command: o.aimBin, args: ["proxy", "--server", "everything-remote", "--home", o.home, "--url", url], env, stderr: "ignore" })),
    await connect("mcp-remote", new StdioClientTransport({ command: process.execPath, args: [mcpRemote, url, "--allow-http", "--transport", "http-only"], env: { ...env, HOME: remoteHome }, stderr: "ignore" })),
  ];
  const out = { calls: o.calls, node: process.version, url };

  // warm up every path (JIT, connections, the proxy's first tools/list pin)
  for (const p of paths) await p.client.listTools();
  await measure(paths, "echo", 200);
  await measure(paths, "ping", 100);

  out.echo = report("remote tools/call echo", await measure(paths, "echo", o.calls));
  out.ping = report("remote ping (pass-through)", await measure(paths, "ping", o.calls));

  await Promise.all(paths.map((p) => p.client.close()));
  stopServer();
  fs.rmSync(remoteHome, { recursive: true, force: true });
  out.totalSeconds = (Date.now() - t0) / 1000;
  console.log(`\nremote bench done in ${out.totalSeconds.toFixed(1)} s`);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(out, null, 2) + "\n");
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench-remote.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
