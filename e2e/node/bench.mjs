#!/usr/bin/env node
// Real-client benchmark: the official MCP SDK client against
// server-everything three ways in one run, interleaved so that order and
// machine noise do not favour one path:
//
//   direct  node server-everything stdio
//   relay   benchrelay -- node server-everything stdio        (the floor: a bare line relay)
//   proxy   aim-mcp proxy --server everything --home H -- node server-everything stdio
//
// Usage (scripts/bench.sh builds the binaries and calls this):
//   node bench.mjs --relay-bin PATH --aim-bin PATH --home DIR [--calls N] [--big-mib N] [--json FILE]
//
// It prints p50/p90/p99 per path for tools/call echo (policed by the proxy),
// ping (pure pass-through) and tools/list (its result is read by the proxy),
// the ratios proxy/direct and relay/direct, the proxy-relay delta in ms, each
// path's start to its initialize answer, and the proxy's and the relay's
// idle memory (RSS, PSS, anonymous; the proxy's supervisor too) and peak RSS
// after relaying an N MiB message each way.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { children, memory } from "./proc.mjs";
import { f2, f3, measure, ops, stats } from "./benchlib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const everything = path.join(here, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

function parseArgs(argv) {
  const o = { calls: 3000, bigMiB: 8, starts: 10 };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i];
    switch (argv[i]) {
      case "--relay-bin": o.relayBin = v(); break;
      case "--aim-bin": o.aimBin = v(); break;
      case "--home": o.home = v(); break;
      case "--calls": o.calls = Number(v()); break;
      case "--starts": o.starts = Number(v()); break;
      case "--big-mib": o.bigMiB = Number(v()); break;
      case "--json": o.json = v(); break;
      default:
        process.stderr.write(`bench.mjs: unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (!o.relayBin || !o.aimBin || !o.home) {
    process.stderr.write("usage: node bench.mjs --relay-bin PATH --aim-bin PATH --home DIR [--calls N] [--big-mib N] [--json FILE]\n");
    process.exit(2);
  }
  return o;
}

async function connect(name, command, args) {
  const transport = new StdioClientTransport({ command, args, env: getDefaultEnvironment(), stderr: "ignore" });
  const client = new Client({ name: `aim-mcp-bench-${name}`, version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);
  return { name, client, transport };
}

function report(title, lat) {
  const st = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, stats(v)]));
  const d = st.direct, r = st.relay, p = st.proxy;
  console.log(`\n${title}  (${d.n} per path, ms)`);
  console.log("  path        p50      p90      p99     mean      max");
  for (const [k, s] of Object.entries(st)) {
    console.log(`  ${k.padEnd(8)} ${f3(s.p50).padStart(7)}  ${f3(s.p90).padStart(7)}  ${f3(s.p99).padStart(7)}  ${f3(s.mean).padStart(7)}  ${f3(s.max).padStart(7)}`);
  }
  const derived = {
    proxyOverDirect: { p50: p.p50 / d.p50, p99: p.p99 / d.p99 },
    relayOverDirect: { p50: r.p50 / d.p50, p99: r.p99 / d.p99 },
    proxyMinusRelayMs: { p50: p.p50 - r.p50, p99: p.p99 - r.p99 },
  };
  console.log(`  ratio proxy/direct  p50 ${f2(derived.proxyOverDirect.p50)}x  p99 ${f2(derived.proxyOverDirect.p99)}x`);
  console.log(`  ratio relay/direct  p50 ${f2(derived.relayOverDirect.p50)}x  p99 ${f2(derived.relayOverDirect.p99)}x`);
  console.log(`  proxy - relay       p50 ${f3(derived.proxyMinusRelayMs.p50)} ms  p99 ${f3(derived.proxyMinusRelayMs.p99)} ms`);
  return { stats: st, ...derived };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const server = ["node", everything, "stdio"];
  const paths = [
    await connect("direct", server[0], server.slice(1)),
    await connect("relay", o.relayBin, ["--", ...server]),
    await connect("proxy", o.aimBin, ["proxy", "--server", "everything", "--home", o.home, "--", ...server]),
  ];
  const byName = Object.fromEntries(paths.map((p) => [p.name, p]));
  const out = { calls: o.calls, node: process.version };

  // start: from spawning a path to the client holding the initialize
  // answer, each path in turn, a few times; the proxy's start cost is its
  // median minus the direct path's (the server's own start is in both).
  const starts = { direct: [], relay: [], proxy: [] };
  const spawn = {
    direct: () => connect("direct", server[0], server.slice(1)),
    relay: () => connect("relay", o.relayBin, ["--", ...server]),
    proxy: () => connect("proxy", o.aimBin, ["proxy", "--server", "everything", "--home", o.home, "--", ...server]),
  };
  for (let i = 0; i < o.starts; i++) {
    for (const name of Object.keys(starts)) {
      const t = process.hrtime.bigint();
      const p = await spawn[name]();
      starts[name].push(Number(process.hrtime.bigint() - t) / 1e6);
      await p.client.close();
    }
  }
  out.start = Object.fromEntries(Object.entries(starts).map(([k, v]) => [k, stats(v).p50]));
  console.log(`\nstart to the initialize answer, median of ${o.starts} (ms): direct ${f3(out.start.direct)}, relay ${f3(out.start.relay)}, proxy ${f3(out.start.proxy)}`);
  console.log(`  proxy - direct ${f3(out.start.proxy - out.start.direct)} ms`);

  // warm up every path (JIT, page cache, the proxy's first tools/list pin)
  await paths[2].client.listTools();
  await measure(paths, "echo", 200);
  await measure(paths, "ping", 100);
  await sleep(500);
  out.idle = {
    proxy: memory(byName.proxy.transport.pid),
    relay: memory(byName.relay.transport.pid),
  };
  // On Linux the proxy's server runs under a supervisor, aim-mcp again.
  const sup = children(byName.proxy.transport.pid).find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(o.aimBin));
  if (sup) out.idle.supervisor = memory(sup);

  out.echo = report("tools/call echo", await measure(paths, "echo", o.calls));
  out.ping = report("ping (pass-through)", await measure(paths, "ping", o.calls));
  out.toolsList = report("tools/list", await measure(paths, "tools/list", Math.max(200, Math.floor(o.calls / 4))));

  // one big message each way through the relay and the proxy, then the peak RSS
  const big = "x".repeat(o.bigMiB * 1024 * 1024);
  const want = createHash("sha256").update("Echo: " + big).digest("hex");
  out.big = { mib: o.bigMiB };
  for (const name of ["relay", "proxy"]) {
    const t = Date.now();
    const r = await byName[name].client.callTool({ name: "echo", arguments: { message: big } }, undefined, { timeout: 120_000 });
    const got = createHash("sha256").update(r.content[0].text).digest("hex");
    if (got !== want) throw new Error(`${name}: ${o.bigMiB} MiB echo came back different`);
    out.big[name] = { ms: Date.now() - t, ...memory(byName[name].transport.pid) };
  }

  const mib = (k) => (k / 1024).toFixed(1);
  console.log(`\nmemory (MiB)            relay    proxy`);
  console.log(`  idle VmRSS           ${mib(out.idle.relay.rssKiB).padStart(6)}   ${mib(out.idle.proxy.rssKiB).padStart(6)}`);
  if (out.idle.proxy.pssKiB !== undefined) {
    console.log(`  idle PSS             ${mib(out.idle.relay.pssKiB).padStart(6)}   ${mib(out.idle.proxy.pssKiB).padStart(6)}`);
    console.log(`  idle anonymous       ${mib(out.idle.relay.anonKiB).padStart(6)}   ${mib(out.idle.proxy.anonKiB).padStart(6)}`);
  }
  if (out.idle.supervisor) {
    const s = out.idle.supervisor;
    console.log(`  the proxy's supervisor, idle: VmRSS ${mib(s.rssKiB)}, PSS ${mib(s.pssKiB ?? 0)}, anonymous ${mib(s.anonKiB ?? 0)}`);
  }
  console.log(`  after ${o.bigMiB} MiB VmRSS     ${mib(out.big.relay.rssKiB).padStart(6)}   ${mib(out.big.proxy.rssKiB).padStart(6)}`);
  console.log(`  peak VmHWM           ${mib(out.big.relay.hwmKiB).padStart(6)}   ${mib(out.big.proxy.hwmKiB).padStart(6)}`);
  console.log(`  ${o.bigMiB} MiB echo round trip: relay ${out.big.relay.ms} ms, proxy ${out.big.proxy.ms} ms`);

  await Promise.all(paths.map((p) => p.client.close()));
  out.totalSeconds = (Date.now() - t0) / 1000;
  console.log(`\nbench done in ${out.totalSeconds.toFixed(1)} s`);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(out, null, 2) + "\n");
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
