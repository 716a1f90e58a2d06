#!/usr/bin/env node
// End-to-end driver: the official MCP TypeScript SDK client (Client +
// StdioClientTransport) runs a scenario suite against whatever server command
// line follows "--", and prints ONE JSON document of normalised results on
// stdout. Everything that depends on timing, pids or temp paths is stripped or
// replaced by a placeholder, so that the document of a direct run and the one of
// a run through `aim-mcp proxy` can be compared for equality.
//
//   node client.mjs --scenario everything [options] -- node .../server-everything/dist/index.js stdio
//   node client.mjs --scenario filesystem --fs-root DIR [options] -- node .../server-filesystem/dist/index.js DIR
//   node client.mjs --scenario memory --memory-file F [options] -- node .../server-memory/dist/index.js
//   node client.mjs --scenario approval [--handshake DIR] [options] -- aim-mcp proxy ... -- node .../server-everything/dist/index.js stdio
//   node client.mjs --scenario everything --url http://127.0.0.1:PORT/mcp   (streamable HTTP, no command)
//
// Options:
//   --meta FILE      write timing/pid facts (not compared) as JSON to FILE: shutdown
//                    duration, the tools/call requests sent and whether each was answered.
//   --env K=V        extra environment for the server process (repeatable); the SDK's
//                    default safe environment is always passed as well.
//   --big-mib N      size of the large echo payload (default 4).
//   --url URL        talk streamable HTTP to a running server at URL instead of starting a
//                    command: the direct side of a remote server's comparison. There is no
//                    process of ours to stop, so shutdown only closes the session.
//   --handshake DIR  (approval) meet the side that answers the approvals through files in DIR:
//                    this driver appends one JSON line per event to DIR/events.jsonl
//                    ({"event", "t": epoch ms, ...}) and waits for DIR/go-<name> files.
//                    Without it, the driver waits for no one: answer by hand with
//                    `aim-mcp approvals` / `approve ID` / `deny ID --reason "not during the demo"`.
//   --deny-reason T  (approval) the reason the denied call must carry (default "not during the demo").
//
// The document has a "failures" array: the driver's own assertions. It is empty
// when every step behaved as the reference servers are known to behave.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import { EmptyResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { processTree, waitGone } from "./proc.mjs";

const REQUEST_TIMEOUT_MS = 30_000;
// A call that waits for a person: the proxy holds it up to approval_wait (50 s
// by default), so the client must wait longer than that.
const APPROVAL_TIMEOUT_MS = 90_000;

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = { env: {}, bigMiB: 4, denyReason: "not during the demo" };
  let dd = argv.indexOf("--");
  if (dd < 0) dd = argv.length;
  opts.command = argv[dd + 1];
  opts.args = argv.slice(dd + 2);
  const own = argv.slice(0, dd);
  for (let i = 0; i < own.length; i++) {
    const a = own[i];
    const val = () => {
      if (i + 1 >= own.length) usage(`${a} needs a value`);
      return own[++i];
    };
    switch (a) {
      case "--scenario": opts.scenario = val(); break;
      case "--fs-root": opts.fsRoot = val(); break;
      case "--memory-file": opts.memoryFile = val(); break;
      case "--meta": opts.meta = val(); break;
      case "--big-mib": opts.bigMiB = Number(val()); break;
      case "--handshake": opts.handshake = val(); break;
      case "--deny-reason": opts.denyReason = val(); break;
      case "--url": opts.url = val(); break;
      case "--env": {
        const kv = val();
        const eq = kv.indexOf("=");
        if (eq <= 0) usage(`--env wants K=V, got ${kv}`);
        opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      default: usage(`unknown option ${a}`);
    }
  }
  if (!opts.command && !opts.url) usage("missing server command after -- (or --url)");
  if (!SUITES[opts.scenario]) usage(`--scenario must be one of ${Object.keys(SUITES).join(", ")}`);
  return opts;
}

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs --scenario everything|filesystem|memory|approval|dashboard|dashboard-drift [--fs-root DIR] [--memory-file F] [--env K=V] [--meta FILE] [--big-mib N] [--handshake DIR] [--deny-reason TEXT] [--url URL] -- CMD ARGS...\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- wire tap

// TapTransport wraps the SDK's StdioClientTransport and counts what crosses
// the wire in both directions. The SDK's onprogress can miss the last progress
// notification when it arrives in the same read as the response, so exact
// counts come from here.
class TapTransport {
  constructor(inner) {
    this.inner = inner;
    this.calls = new Map(); // id -> {tool, answered, isError, error}
    this.out = { requests: {}, notifications: {}, responses: 0 };
    this.in = { requests: {}, notifications: {}, responses: 0 };
    this.progress = []; // {token, progress, total}
    this.cancelled = []; // requestIds we sent notifications/cancelled for
    this.initializeResult = undefined;
    this.initializeId = undefined;
    inner.onmessage = (m, extra) => { this.#observeIn(m); this.onmessage?.(m, extra); };
    inner.onerror = (e) => this.onerror?.(e);
    inner.onclose = () => this.onclose?.();
  }
  start() { return this.inner.start(); }
  close() { return this.inner.close(); }
  get pid() { return this.inner.pid; }
  send(m, opts) { this.#observeOut(m); return this.inner.send(m, opts); }

  #observeOut(m) {
    if ("method" in m && "id" in m) {
      bump(this.out.requests, m.method);
      if (m.method === "tools/call") this.calls.set(m.id, { tool: m.params?.name, answered: false, sentAt: Date.now() });
      if (m.method === "initialize") this.initializeId = m.id;
    } else if ("method" in m) {
      bump(this.out.notifications, m.method);
      if (m.method === "notifications/cancelled") this.cancelled.push(m.params?.requestId);
    } else {
      this.out.responses++;
    }
  }
  #observeIn(m) {
    if ("method" in m && "id" in m) {
      bump(this.in.requests, m.method);
    } else if ("method" in m) {
      bump(this.in.notifications, m.method);
      if (m.method === "notifications/progress") {
        this.progress.push({ token: m.params?.progressToken, progress: m.params?.progress, total: m.params?.total });
      }
    } else {
      this.in.responses++;
      const c = this.calls.get(m.id);
      if (c) {
        c.answered = true;
        c.answeredAt = Date.now();
        if (m.error) c.error = m.error.code;
        else c.isError = Boolean(m.result?.isError);
      }
      if (m.id === this.initializeId && m.result) this.initializeResult = m.result;
    }
  }
}

function bump(o, k) { o[k] = (o[k] ?? 0) + 1; }

// ---------------------------------------------------------------- helpers

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

// Replace every occurrence of each [needle, placeholder] pair in every string of v.
function normalise(v, pairs) {
  if (typeof v === "string") {
    let s = v;
    for (const [needle, ph] of pairs) if (needle) s = s.split(needle).join(ph);
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, pairs));
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = normalise(v[k], pairs);
    return o;
  }
  return v;
}

function errInfo(e) {
  if (e instanceof McpError) return { error: { code: e.code, message: e.message } };
  return { error: { name: e?.name ?? "Error", message: String(e?.message ?? e) } };
}

class Run {
  constructor(opts) {
    this.opts = opts;
    this.results = {};
    this.failures = [];
    this.meta = { scenario: opts.scenario, timings: {} };
    this.seen = { sampling: [], elicitation: [], rootsList: 0 };
    this.roots = [{ uri: "file:///aim-e2e/root-one", name: "root one" }];
  }
  check(cond, what) {
    if (!cond) this.failures.push(what);
    return cond;
  }
  async step(name, fn) {
    const t0 = performance.now();
    try {
      this.results[name] = await fn();
    } catch (e) {
      this.results[name] = errInfo(e);
      this.failures.push(`${name}: unexpected exception: ${e?.stack ?? e}`);
    }
    this.meta.timings[name] = Math.round(performance.now() - t0);
  }
  async call(name, args, options = {}) {
    return this.client.callTool({ name, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT_MS, ...options });
  }
  // event tells the other side of a --handshake what just happened (and, without
  // one, whoever reads stderr).
  event(name, fields = {}) {
    const line = JSON.stringify({ event: name, t: Date.now(), ...fields });
    (this.meta.events ??= []).push(JSON.parse(line));
    if (this.opts.handshake) fs.appendFileSync(path.join(this.opts.handshake, "events.jsonl"), line + "\n");
    else process.stderr.write(`client.mjs: ${line}\n`);
  }
  // waitGo waits until the other side of a --handshake creates go-<name>.
  async waitGo(name, ms) {
    if (!this.opts.handshake) return true;
    const f = path.join(this.opts.handshake, `go-${name}`);
    return waitFor(() => fs.existsSync(f), ms, `the go-ahead ${f}`, this);
  }
  // sentCall waits until the tools/call number n (0-based, in sending order)
  // is on the wire and returns what the tap knows of it.
  async sentCall(n) {
    await waitFor(() => this.tap.calls.size > n, 10_000, `tools/call #${n} on the wire`, this);
    const [id, c] = [...this.tap.calls.entries()][n] ?? [];
    return { id, ...c };
  }
  // callOutcome never throws: protocol errors become {error}.
  async callOutcome(name, args) {
    try {
      return await this.call(name, args);
    } catch (e) {
      return errInfo(e);
    }
  }
}

function text(result) {
  return (result?.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

function initSummary(run) {
  const r = run.tap.initializeResult ?? {};
  return {
    protocolVersion: r.protocolVersion,
    serverInfo: run.client.getServerVersion(),
    capabilities: run.client.getServerCapabilities(),
    instructions: r.instructions === undefined ? null : { length: r.instructions.length, sha256: sha256(r.instructions) },
  };
}

function toolsSummary(tools) {
  return [...tools].sort((a, b) => a.name.localeCompare(b.name));
}

async function waitFor(pred, ms, what, run) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await sleep(20);
  }
  run.check(false, `timed out after ${ms} ms waiting for ${what}`);
  return false;
}

// A deterministic payload with multi-byte UTF-8, JSON escapes (quotes,
// backslashes, newlines, tabs, a control char) so that byte-exact relaying matters.
// The payload holds every kind of character JSON must escape that a proxy
// passes unchanged; other C0 controls are made visible to the client by design
// (a terminal escape must never reach it), so they are not part of the round trip.
function bigPayload(bytes) {
  const unit = 'aim-mcp e2e \u00e9\u6f22\u{1F680} "quoted" back\\slash\nnew line\ttab\r 0123456789 ';
  const unitBytes = Buffer.byteLength(unit);
  let s = unit.repeat(Math.ceil(bytes / unitBytes));
  while (Buffer.byteLength(s) > bytes) s = s.slice(0, -1);
  // never end on half a surrogate pair
  if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  return s;
}

// ---------------------------------------------------------------- shutdown

async function shutdown(run) {
  const rootPid = run.tap.pid;
  if (run.opts.url) {
    // A server we did not start: closing the session is all there is.
    await run.client.close();
    return { closed: true, processTreeGone: true };
  }
  const tree = processTree(rootPid);
  run.check(tree.length >= 1, `shutdown: expected a live server process tree before close, found ${tree.length}`);
  const t0 = performance.now();
  await run.client.close();
  const closedMs = performance.now() - t0;
  const left = await waitGone(tree, 10_000);
  const goneMs = performance.now() - t0;
  run.meta.timings.shutdownCloseMs = Math.round(closedMs);
  run.meta.timings.shutdownTreeGoneMs = Math.round(goneMs);
  run.meta.shutdownTree = tree.map((p) => ({ pid: p.pid, cmd: p.cmd }));
  run.meta.shutdownLeftBehind = left.map((p) => ({ pid: p.pid, cmd: p.cmd }));
  run.check(left.length === 0, `shutdown: ${left.length} process(es) still alive 10 s after close: ${left.map((p) => `${p.pid} ${p.cmd}`).join("; ")}`);
  return { closed: true, processTreeGone: left.length === 0 };
}

// ---------------------------------------------------------------- suites

async function suiteEverything(run) {
  const { client, tap } = run;

  await run.step("initialize", async () => {
    const s = initSummary(run);
    run.check(s.serverInfo?.name === "mcp-servers/everything", `initialize: serverInfo.name = ${s.serverInfo?.name}`);
    run.check(typeof s.protocolVersion === "string" && s.protocolVersion.length > 0, "initialize: no protocolVersion");
    run.check(Boolean(s.capabilities?.tools), "initialize: no tools capability");
    return s;
  });

  let toolNames = [];
  await run.step("tools/list", async () => {
    const r = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    toolNames = r.tools.map((t) => t.name);
    for (const want of ["echo", "get-sum", "get-structured-content", "get-tiny-image", "trigger-long-running-operation",
      "trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"]) {
      run.check(toolNames.includes(want), `tools/list: missing ${want}`);
    }
    return toolsSummary(r.tools);
  });

  await run.step("ping", async () => {
    const r = await client.ping({ timeout: REQUEST_TIMEOUT_MS });
    return r;
  });

  await run.step("echo", async () => {
    const r = await run.call("echo", { message: "hello, aim-mcp \u2713" });
    run.check(text(r) === "Echo: hello, aim-mcp \u2713", `echo: got ${JSON.stringify(text(r))}`);
    return r;
  });

  await run.step("get-sum", async () => {
    const a = await run.call("get-sum", { a: 2, b: 3 });
    const b = await run.call("get-sum", { a: 0.1, b: 0.2 });
    run.check(text(a) === "The sum of 2 and 3 is 5.", `get-sum: got ${JSON.stringify(text(a))}`);
    return { ints: a, floats: b };
  });

  await run.step("get-structured-content", async () => {
    const r = await run.call("get-structured-content", { location: "Chicago" });
    run.check(r.structuredContent?.temperature === 36, `get-structured-content: ${JSON.stringify(r.structuredContent)}`);
    return r;
  });

  await run.step("get-tiny-image", async () => {
    const r = await run.call("get-tiny-image", {});
    const img = (r.content ?? []).find((c) => c.type === "image");
    run.check(img && img.mimeType === "image/png" && Buffer.from(img.data, "base64").subarray(1, 4).toString() === "PNG",
      "get-tiny-image: no PNG image content");
    return {
      content: (r.content ?? []).map((c) => c.type === "image"
        ? { type: c.type, mimeType: c.mimeType, length: c.data.length, sha256: sha256(c.data) }
        : c),
    };
  });

  await run.step("echo-large", async () => {
    const payload = bigPayload(run.opts.bigMiB * 1024 * 1024);
    const r = await run.call("echo", { message: payload }, { timeout: 60_000 });
    const got = text(r);
    const want = "Echo: " + payload;
    const ok = got === want;
    run.check(ok, `echo-large: round trip differs (got ${Buffer.byteLength(got)} bytes, want ${Buffer.byteLength(want)})`);
    return {
      sentBytes: Buffer.byteLength(payload),
      receivedBytes: Buffer.byteLength(got),
      sha256: sha256(got),
      roundTripExact: ok,
    };
  });

  await run.step("progress", async () => {
    const steps = 5;
    const before = tap.progress.length;
    const seen = [];
    const r = await run.call("trigger-long-running-operation", { duration: 1, steps }, {
      onprogress: (p) => seen.push(p),
    });
    // the last notification may reach the wire in the same read as the result: let it settle
    await sleep(50);
    const wire = tap.progress.slice(before);
    run.check(wire.length === steps, `progress: ${wire.length} notifications on the wire, want ${steps}`);
    run.check(seen.length >= steps - 1 && seen.length <= steps, `progress: onprogress saw ${seen.length}, want ${steps - 1}..${steps}`);
    run.check(seen.every((p, i) => i === 0 || p.progress > seen[i - 1].progress), "progress: onprogress values not increasing");
    return {
      wireNotifications: wire.map((p) => ({ progress: p.progress, total: p.total })),
      wireTokensMatchRequest: wire.every((p) => p.token === wire[0]?.token),
      onprogressDelivered: seen.length >= steps - 1,
      result: r,
    };
  });

  await run.step("sampling", async () => {
    const r = await run.call("trigger-sampling-request", { prompt: "What is aim-mcp?", maxTokens: 32 });
    run.check(run.seen.sampling.length === 1, `sampling: client answered ${run.seen.sampling.length} sampling/createMessage requests, want 1`);
    run.check(text(r).includes("aim-e2e-model"), "sampling: tool result does not carry the client's sampling answer");
    return { requestsSeenByClient: run.seen.sampling, result: r };
  });

  await run.step("elicitation", async () => {
    const r = await run.call("trigger-elicitation-request", {});
    run.check(run.seen.elicitation.length === 1, `elicitation: client answered ${run.seen.elicitation.length} elicitation/create requests, want 1`);
    run.check(text(r).includes("User provided the requested information") && text(r).includes("Ada Lovelace"),
      `elicitation: unexpected result ${JSON.stringify(text(r)).slice(0, 200)}`);
    return {
      requestsSeenByClient: run.seen.elicitation.map((p) => ({
        message: p.message,
        mode: p.mode,
        requestedSchemaSha256: sha256(JSON.stringify(p.requestedSchema)),
        required: p.requestedSchema?.required,
      })),
      result: r,
    };
  });

  await run.step("roots", async () => {
    // server-everything asks roots/list on its own ~350 ms after notifications/initialized
    // (server/roots.js syncRoots); get-roots-list reports what it got.
    await waitFor(() => run.seen.rootsList >= 1, 10_000, "the server's first roots/list", run);
    const first = await run.call("get-roots-list", {});
    run.check(text(first).includes("file:///aim-e2e/root-one"), `roots: first get-roots-list ${JSON.stringify(text(first)).slice(0, 200)}`);
    // change roots and notify: the server must ask again
    run.roots = [...run.roots, { uri: "file:///aim-e2e/root-two", name: "root two" }];
    const asked = run.seen.rootsList;
    await client.sendRootsListChanged();
    await waitFor(() => run.seen.rootsList > asked, 10_000, "roots/list after notifications/roots/list_changed", run);
    // the server stores the answer after the round trip; poll the tool until it shows it
    let second;
    for (let i = 0; i < 50; i++) {
      second = await run.call("get-roots-list", {});
      if (text(second).includes("root-two")) break;
      await sleep(20);
    }
    run.check(text(second).includes("file:///aim-e2e/root-two"), `roots: second get-roots-list ${JSON.stringify(text(second)).slice(0, 200)}`);
    return { serverAskedRootsList: run.seen.rootsList >= 2, first, second: text(second) };
  });

  await run.step("resources", async () => {
    const list = await client.listResources(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const templates = await client.listResourceTemplates(undefined, { timeout: REQUEST_TIMEOUT_MS });
    run.check(list.resources.length > 0, "resources: resources/list is empty");
    const first = list.resources[0];
    const read = await client.readResource({ uri: first.uri }, { timeout: REQUEST_TIMEOUT_MS });
    const c = read.contents[0] ?? {};
    run.check(typeof c.text === "string" && c.text.length > 0, "resources: static resource has no text");
    const dyn = await client.readResource({ uri: "demo://resource/dynamic/text/7" }, { timeout: REQUEST_TIMEOUT_MS });
    const dynText = dyn.contents[0]?.text ?? "";
    run.check(dynText.startsWith("Resource 7: This is a plaintext resource created at "), `resources: dynamic text ${dynText}`);
    let unknown;
    try {
      unknown = await client.readResource({ uri: "demo://resource/dynamic/text/0" }, { timeout: REQUEST_TIMEOUT_MS });
      run.check(false, "resources: reading an invalid resource id succeeded");
    } catch (e) {
      unknown = errInfo(e);
    }
    return {
      list: list.resources,
      nextCursor: list.nextCursor ?? null,
      templates: templates.resourceTemplates,
      readStatic: { uri: c.uri, mimeType: c.mimeType, length: c.text?.length, sha256: sha256(c.text ?? "") },
      // the dynamic resource embeds the wall-clock time
      readDynamic: { uri: dyn.contents[0]?.uri, mimeType: dyn.contents[0]?.mimeType, text: dynText.replace(/created at .*$/, "created at <TIME>") },
      readInvalid: unknown,
    };
  });

  await run.step("prompts", async () => {
    const list = await client.listPrompts(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const simple = await client.getPrompt({ name: "simple-prompt" }, { timeout: REQUEST_TIMEOUT_MS });
    const withArgs = await client.getPrompt({ name: "args-prompt", arguments: { city: "Lisbon", state: "Estremadura" } }, { timeout: REQUEST_TIMEOUT_MS });
    run.check(JSON.stringify(withArgs).includes("Lisbon"), "prompts: args-prompt does not mention its argument");
    return { list: list.prompts, simple, withArgs };
  });

  await run.step("cancellation", async () => {
    const ac = new AbortController();
    const callsBefore = tap.calls.size;
    const pending = run.call("trigger-long-running-operation", { duration: 30, steps: 1 }, { signal: ac.signal });
    await sleep(300);
    ac.abort("aim-e2e: user cancelled");
    const t0 = performance.now();
    let outcome;
    try {
      await pending;
      outcome = { resolved: true };
      run.check(false, "cancellation: the aborted call resolved");
    } catch (e) {
      outcome = errInfo(e);
    }
    run.meta.timings.cancelRejectMs = Math.round(performance.now() - t0);
    const cancelledId = [...tap.calls.keys()][callsBefore];
    run.check(tap.cancelled.includes(cancelledId), "cancellation: no notifications/cancelled for the aborted request on the wire");
    const after = await run.call("echo", { message: "still alive after cancel" });
    run.check(text(after) === "Echo: still alive after cancel", "cancellation: echo after cancel failed");
    // the server must not answer the cancelled request (MCP: SHOULD NOT respond)
    await sleep(100);
    return {
      abortRejected: outcome,
      cancelledNotificationSent: tap.cancelled.includes(cancelledId),
      cancelledRequestAnswered: tap.calls.get(cancelledId)?.answered ?? null,
      echoAfter: after,
    };
  });

  await run.step("errors", async () => {
    const unknownTool = await run.callOutcome("no-such-tool", {});
    const badArgs = await run.callOutcome("echo", { message: 42 });
    const missingArgs = await run.callOutcome("get-sum", { a: 1 });
    let unknownMethod;
    try {
      await client.request({ method: "aim-e2e/no-such-method", params: {} }, EmptyResultSchema, { timeout: REQUEST_TIMEOUT_MS });
      unknownMethod = { resolved: true };
    } catch (e) {
      unknownMethod = errInfo(e);
    }
    run.check(unknownTool.isError === true || unknownTool.error, "errors: unknown tool did not fail");
    run.check(badArgs.isError === true || badArgs.error, "errors: bad arguments did not fail");
    run.check(unknownMethod.error?.code === -32601, `errors: unknown method: ${JSON.stringify(unknownMethod)}`);
    const after = await run.call("echo", { message: "fine after errors" });
    run.check(text(after) === "Echo: fine after errors", "errors: echo after errors failed");
    return { unknownTool, badArgs, missingArgs, unknownMethod, echoAfter: text(after) };
  });

  await run.step("shutdown", () => shutdown(run));
}

async function suiteFilesystem(run) {
  const { client } = run;
  const root = run.fsRoot;
  const dir = path.join(root, "e2e");
  const p = (...x) => path.join(dir, ...x);

  await run.step("initialize", async () => {
    const s = initSummary(run);
    run.check(s.serverInfo?.name === "secure-filesystem-server", `initialize: serverInfo.name = ${s.serverInfo?.name}`);
    return s;
  });

  await run.step("tools/list", async () => {
    const r = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const names = r.tools.map((t) => t.name);
    for (const want of ["list_allowed_directories", "write_file", "read_text_file", "list_directory", "directory_tree", "edit_file", "create_directory", "search_files"]) {
      run.check(names.includes(want), `tools/list: missing ${want}`);
    }
    return toolsSummary(r.tools);
  });

  await run.step("list_allowed_directories", async () => {
    const r = await run.call("list_allowed_directories", {});
    run.check(text(r).includes(root), `list_allowed_directories: ${text(r)} does not name ${root}`);
    return r;
  });

  await run.step("create_directory", () => run.call("create_directory", { path: p("sub") }));

  const hello = "line one\nline two \u2713\nline three\n";
  await run.step("write_file", async () => {
    const a = await run.call("write_file", { path: p("hello.txt"), content: hello });
    const b = await run.call("write_file", { path: p("sub", "nested.md"), content: "# nested\n" });
    run.check(fs.readFileSync(p("hello.txt"), "utf8") === hello, "write_file: file on disk differs");
    return { hello: a, nested: b };
  });

  await run.step("read_text_file", async () => {
    const all = await run.call("read_text_file", { path: p("hello.txt") });
    const head = await run.call("read_text_file", { path: p("hello.txt"), head: 1 });
    run.check(text(all) === hello, `read_text_file: ${JSON.stringify(text(all))}`);
    return { all, head };
  });

  await run.step("list_directory", async () => {
    const r = await run.call("list_directory", { path: dir });
    run.check(text(r).includes("[FILE] hello.txt") && text(r).includes("[DIR] sub"), `list_directory: ${text(r)}`);
    return r;
  });

  await run.step("directory_tree", async () => {
    const r = await run.call("directory_tree", { path: dir });
    run.check(text(r).includes("nested.md"), `directory_tree: ${text(r)}`);
    return r;
  });

  await run.step("search_files", () => run.call("search_files", { path: dir, pattern: "**/*.md" }));

  await run.step("edit_file-dry-run", async () => {
    const r = await run.call("edit_file", { path: p("hello.txt"), edits: [{ oldText: "line two", newText: "line 2" }], dryRun: true });
    run.check(text(r).includes("-line two") && text(r).includes("+line 2"), `edit_file dry run: ${text(r)}`);
    run.check(fs.readFileSync(p("hello.txt"), "utf8") === hello, "edit_file dry run changed the file");
    return r;
  });

  await run.step("outside-allowed", async () => {
    const read = await run.callOutcome("read_text_file", { path: "/etc/hostname" });
    // a raw "../" chain (not normalised here), deep enough to reach / from any root
    const traversal = await run.callOutcome("read_text_file", { path: `${dir}/${"../".repeat(32)}etc/passwd` });
    const outside = path.join(path.dirname(root), `aim-e2e-outside-${path.basename(root)}.txt`);
    const write = await run.callOutcome("write_file", { path: outside, content: "must not be written" });
    const exists = fs.existsSync(outside);
    if (exists) fs.rmSync(outside);
    run.check(read.isError === true || read.error, "outside-allowed: reading /etc/hostname succeeded");
    run.check(traversal.isError === true || traversal.error, "outside-allowed: ../ traversal succeeded");
    run.check(!exists && (write.isError === true || write.error), "outside-allowed: writing outside the root succeeded");
    return { read, traversal, write: normalise(write, [[outside, "<OUTSIDE>"]]), outsideFileCreated: exists };
  });

  await run.step("shutdown", () => shutdown(run));
}

async function suiteMemory(run) {
  const { client } = run;
  await run.step("initialize", async () => initSummary(run));
  await run.step("tools/list", async () => {
    const r = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    return toolsSummary(r.tools);
  });
  await run.step("create_entities", () => run.call("create_entities", {
    entities: [
      { name: "aim-mcp", entityType: "program", observations: ["signs every tools/call"] },
      { name: "Claude Desktop", entityType: "client", observations: ["launches stdio servers"] },
    ],
  }));
  await run.step("create_relations", () => run.call("create_relations", {
    relations: [{ from: "Claude Desktop", to: "aim-mcp", relationType: "launches" }],
  }));
  await run.step("add_observations", () => run.call("add_observations", {
    observations: [{ entityName: "aim-mcp", contents: ["keeps a hash-chained audit log"] }],
  }));
  await run.step("search_nodes", () => run.call("search_nodes", { query: "audit" }));
  await run.step("open_nodes", () => run.call("open_nodes", { names: ["aim-mcp"] }));
  await run.step("read_graph", async () => {
    const r = await run.call("read_graph", {});
    run.check(text(r).includes("keeps a hash-chained audit log"), `read_graph: ${text(r).slice(0, 200)}`);
    return r;
  });
  await run.step("memory-file", async () => {
    const f = run.memoryFile;
    const body = f && fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    run.check(body.includes("keeps a hash-chained audit log"), `memory-file: ${f} does not hold the graph (MEMORY_FILE_PATH not passed to the server?)`);
    return { lines: body.split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
  });
  await run.step("shutdown", () => shutdown(run));
}

// Human approval end to end, through a proxy whose policy makes get-sum wait for a
// person (aim-mcp policy add --tool get-sum --action approve): call A waits
// while a ping and another call pass; approved, it returns the real sum. Call
// B, with other arguments, is denied and its result carries the reason. The
// client declares no elicitation, so the proxy cannot ask in the client and
// the answers come from `aim-mcp approve` / `aim-mcp deny` in a terminal (the
// Go side of --handshake).
async function suiteApproval(run) {
  const { client, tap } = run;

  await run.step("initialize", async () => {
    const s = initSummary(run);
    run.check(s.serverInfo?.name === "mcp-servers/everything", `initialize: serverInfo.name = ${s.serverInfo?.name}`);
    return { serverInfo: s.serverInfo, protocolVersion: s.protocolVersion };
  });

  // as a client does before it calls: the proxy pins the tools it sees listed
  await run.step("tools/list", async () => {
    const r = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const names = r.tools.map((t) => t.name).sort();
    for (const want of ["echo", "get-sum"]) run.check(names.includes(want), `tools/list: missing ${want}`);
    return names;
  });

  await run.step("held", async () => {
    const order = [];
    let settled = false;
    const n = tap.calls.size;
    const pendingA = run.call("get-sum", { a: 1, b: 2 }, { timeout: APPROVAL_TIMEOUT_MS }).then(
      (r) => { settled = true; order.push("get-sum A"); return r; },
      (e) => { settled = true; order.push("get-sum A (failed)"); throw e; });
    pendingA.catch(() => {}); // awaited below; no unhandled rejection meanwhile
    const sent = await run.sentCall(n);
    run.event("A-sent", { t: sent.sentAt, id: sent.id });
    // the other side saw A's approval request: A now waits for a person
    await run.waitGo("A-pending", 30_000);
    const t0 = Date.now();
    const ping = await client.ping({ timeout: REQUEST_TIMEOUT_MS });
    order.push("ping");
    const pingWhileAPending = !settled;
    const pingMs = Date.now() - t0;
    const echo = await run.call("echo", { message: "while get-sum waits" });
    order.push("echo");
    const echoWhileAPending = !settled;
    const echoMs = Date.now() - t0 - pingMs;
    run.check(pingWhileAPending, "held: the ping was answered only after get-sum A");
    run.check(echoWhileAPending, "held: echo was answered only after get-sum A");
    run.check(text(echo) === "Echo: while get-sum waits", `held: echo: ${JSON.stringify(text(echo))}`);
    run.event("held-checks-done", { pingMs, echoMs, order: [...order] });
    const a = await pendingA;
    run.meta.timings.heldAMs = tap.calls.get(sent.id)?.answeredAt - sent.sentAt;
    run.check(!a.isError && text(a) === "The sum of 1 and 2 is 3.", `held: get-sum A: ${JSON.stringify(a)}`);
    run.check(JSON.stringify(order) === JSON.stringify(["ping", "echo", "get-sum A"]), `held: order ${order.join(", ")}`);
    return { order, pingWhileAPending, echoWhileAPending, ping, echo, resultA: a };
  });

  await run.step("denied", async () => {
    const n = tap.calls.size;
    const pendingB = run.call("get-sum", { a: 40, b: 2 }, { timeout: APPROVAL_TIMEOUT_MS });
    pendingB.catch(() => {});
    const sent = await run.sentCall(n);
    run.event("B-sent", { t: sent.sentAt, id: sent.id });
    const b = await pendingB;
    const why = text(b);
    run.check(b.isError === true, `denied: get-sum B is not an isError result: ${JSON.stringify(b)}`);
    run.check(why.includes(run.opts.denyReason), `denied: get-sum B does not give the reason ${JSON.stringify(run.opts.denyReason)}: ${JSON.stringify(why)}`);
    run.check(!why.includes("The sum of"), `denied: get-sum B ran: ${JSON.stringify(why)}`);
    return { isError: b.isError, text: why };
  });

  await run.step("shutdown", () => shutdown(run));
}

// The dashboard's browser test (e2e/dashboard_test.go): the same rule makes
// get-sum wait for a person, and the person answers in the dashboard, driven
// by Chromium: call A is approved with one click and returns the real sum;
// call B is denied with a reason typed in the page, and its result carries it.
async function suiteDashboard(run) {
  const { client, tap } = run;
  await run.step("initialize", async () => initSummary(run).serverInfo);
  await run.step("tools/list", async () => (await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS })).tools.length > 0);
  await run.step("approved", async () => {
    const n = tap.calls.size;
    const pending = run.call("get-sum", { a: 1, b: 2 }, { timeout: APPROVAL_TIMEOUT_MS });
    pending.catch(() => {});
    const sent = await run.sentCall(n);
    run.event("A-sent", { t: sent.sentAt, id: sent.id });
    const a = await pending;
    run.check(!a.isError && text(a) === "The sum of 1 and 2 is 3.", `approved: get-sum A: ${JSON.stringify(a)}`);
    return { text: text(a) };
  });
  await run.step("denied", async () => {
    const n = tap.calls.size;
    const pending = run.call("get-sum", { a: 40, b: 2 }, { timeout: APPROVAL_TIMEOUT_MS });
    pending.catch(() => {});
    const sent = await run.sentCall(n);
    run.event("B-sent", { t: sent.sentAt, id: sent.id });
    const b = await pending;
    const why = text(b);
    run.check(b.isError === true, `denied: get-sum B is not an isError result: ${JSON.stringify(b)}`);
    run.check(why.includes(run.opts.denyReason), `denied: get-sum B does not give the reason ${JSON.stringify(run.opts.denyReason)}: ${JSON.stringify(why)}`);
    return { isError: b.isError, text: why };
  });
  await run.step("shutdown", () => shutdown(run));
}

// The dashboard's drift step: a new session lists the tools, one of which
// no longer matches its pin (the test changed the pinned description), and
// calls it; the call waits until the person accepts the change in the
// dashboard's Drift page, then runs.
async function suiteDashboardDrift(run) {
  const { client, tap } = run;
  await run.step("initialize", async () => initSummary(run).serverInfo);
  await run.step("tools/list", async () => (await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS })).tools.length > 0);
  await run.step("drifted", async () => {
    const n = tap.calls.size;
    const pending = run.call("echo", { message: "after the change" }, { timeout: APPROVAL_TIMEOUT_MS });
    pending.catch(() => {});
    const sent = await run.sentCall(n);
    run.event("C-sent", { t: sent.sentAt, id: sent.id });
    const c = await pending;
    run.check(!c.isError && text(c) === "Echo: after the change", `drifted: echo: ${JSON.stringify(c)}`);
    return { text: text(c) };
  });
  await run.step("shutdown", () => shutdown(run));
}

// What servers tell the model (e2e/poison_test.go), against
// poisoned-server.mjs through the proxy `aim-mcp install` wrote. Install
// scanned the server and quarantined `fact`, whose description tells the
// model to read the user's MCP config: it is not listed and a call to it is
// refused. `weather` answers with terminal escapes and tag characters, which
// never reach the client; `signup` asks the client for a password, and the
// form never reaches it either.
async function suitePoison(run) {
  const { client } = run;
  await run.step("initialize", async () => initSummary(run).serverInfo);
  await run.step("tools/list", async () => {
    const names = (await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS })).tools.map((t) => t.name).sort();
    run.check(!names.includes("fact"), `tools/list: the quarantined fact is listed: ${names.join(", ")}`);
    for (const want of ["add", "signup", "weather"]) run.check(names.includes(want), `tools/list: missing ${want}`);
    return names;
  });
  await run.step("fact", async () => {
    const r = await run.call("fact", { n: 7 });
    const why = text(r);
    run.check(r.isError === true, `fact: not refused: ${JSON.stringify(r)}`);
    run.check(why.includes("aim-mcp pins accept"), `fact: the refusal does not say how to release it: ${JSON.stringify(why)}`);
    run.check(!why.includes("is a number"), `fact: the quarantined tool ran: ${JSON.stringify(why)}`);
    return { isError: r.isError, text: why };
  });
  await run.step("weather", async () => {
    const r = await run.call("weather", { city: "Oslo" });
    const t = text(r);
    run.check(t.startsWith("Sunny in Oslo."), `weather: ${JSON.stringify(t)}`);
    run.check(!t.includes("\x1b"), `weather: a terminal escape reached the client: ${JSON.stringify(t)}`);
    run.check(!/[\u{E0000}-\u{E007F}]/u.test(t), `weather: tag characters reached the client: ${JSON.stringify(t)}`);
    return { text: t };
  });
  await run.step("signup", async () => {
    const r = await run.call("signup", {});
    run.check(run.seen.elicitation.length === 0, `signup: the password form reached the client: ${JSON.stringify(run.seen.elicitation)}`);
    run.check(!text(r).includes("elicitation answered"), `signup: ${JSON.stringify(text(r))}`);
    return { isError: r.isError ?? false, text: text(r) };
  });
  await run.step("shutdown", () => shutdown(run));
}

// After `aim-mcp pins accept poisoned fact`: the person released the tool,
// so it is listed and runs.
async function suitePoisonReleased(run) {
  const { client } = run;
  await run.step("initialize", async () => initSummary(run).serverInfo);
  await run.step("tools/list", async () => {
    const names = (await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS })).tools.map((t) => t.name).sort();
    run.check(names.includes("fact"), `tools/list: the released fact is not listed: ${names.join(", ")}`);
    return names;
  });
  await run.step("fact", async () => {
    const r = await run.call("fact", { n: 7 });
    run.check(!r.isError && text(r) === "7 is a number.", `fact: ${JSON.stringify(r)}`);
    return { text: text(r) };
  });
  await run.step("shutdown", () => shutdown(run));
}

const SUITES = { everything: suiteEverything, filesystem: suiteFilesystem, memory: suiteMemory, approval: suiteApproval,
  dashboard: suiteDashboard, "dashboard-drift": suiteDashboardDrift, poison: suitePoison, "poison-released": suitePoisonReleased };

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const run = new Run(opts);
  const env = { ...getDefaultEnvironment(), ...opts.env };
  if (process.env.AIM_E2E_MARKER) env.AIM_E2E_MARKER = process.env.AIM_E2E_MARKER;

  const pairs = [];
  if (opts.scenario === "filesystem") {
    if (!opts.fsRoot) usage("--fs-root is required for the filesystem scenario");
    fs.mkdirSync(opts.fsRoot, { recursive: true });
    run.fsRoot = fs.realpathSync(opts.fsRoot);
    // the suite is idempotent: start from an empty work dir each run
    fs.rmSync(path.join(run.fsRoot, "e2e"), { recursive: true, force: true });
    fs.mkdirSync(path.join(run.fsRoot, "e2e"));
    pairs.push([run.fsRoot, "<ROOT>"]);
    if (opts.fsRoot !== run.fsRoot) pairs.push([opts.fsRoot, "<ROOT>"]);
  }
  if (opts.scenario === "memory") {
    run.memoryFile = opts.memoryFile ?? opts.env.MEMORY_FILE_PATH;
    if (!run.memoryFile) usage("--memory-file (or --env MEMORY_FILE_PATH=...) is required for the memory scenario");
    env.MEMORY_FILE_PATH = run.memoryFile;
    fs.rmSync(run.memoryFile, { force: true });
  }

  const inner = opts.url
    ? new StreamableHTTPClientTransport(new URL(opts.url))
    : new StdioClientTransport({ command: opts.command, args: opts.args, env, stderr: "inherit" });
  const tap = new TapTransport(inner);
  run.tap = tap;
  const capabilities = opts.scenario === "everything"
    ? { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } }
    : opts.scenario === "poison" ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: "aim-mcp-e2e", version: "1.0.0" }, { capabilities });
  run.client = client;
  client.onerror = (e) => {
    // Progress for a cancelled request arrives after the client forgot its token; that is expected.
    if (!String(e?.message).includes("unknown token")) run.meta.clientErrors = [...(run.meta.clientErrors ?? []), String(e?.message ?? e)];
  };

  if (opts.scenario === "everything") {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      run.seen.sampling.push(req.params);
      const prompt = req.params.messages?.[0]?.content?.text ?? "";
      return {
        model: "aim-e2e-model",
        role: "assistant",
        content: { type: "text", text: `aim-e2e sampled answer to: ${prompt}` },
        stopReason: "endTurn",
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      run.seen.elicitation.push(req.params);
      return {
        action: "accept",
        content: { name: "Ada Lovelace", check: true, email: "ada@example.org", integer: 7, number: 2.5 },
      };
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      run.seen.rootsList++;
      return { roots: run.roots };
    });
  }

  if (opts.scenario === "poison") {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      run.seen.elicitation.push(req.params);
      return { action: "decline" };
    });
  }

  const t0 = performance.now();
  await client.connect(tap, { timeout: REQUEST_TIMEOUT_MS });
  run.meta.timings.connectMs = Math.round(performance.now() - t0);
  run.meta.serverPid = tap.pid;

  await SUITES[opts.scenario](run);

  run.meta.wire = { out: tap.out, in: tap.in };
  run.meta.calls = [...tap.calls.values()];
  const doc = normalise({ scenario: opts.scenario, results: run.results, failures: run.failures }, pairs);
  if (opts.meta) fs.writeFileSync(opts.meta, JSON.stringify(normalise(run.meta, pairs), null, 2) + "\n");
  process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
  // the suite closed the client; do not wait for stray timers
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`client.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
