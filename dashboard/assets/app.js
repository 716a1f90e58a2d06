// The aim-mcp dashboard: one page per nav entry, drawn from the JSON API
// and redrawn when the server says the registry changed (server-sent
// events). No framework, no build step; every text goes in as text.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const main = document.getElementById("main");
const page = document.body.dataset.page;

// h builds an element: h("td", {class: "num"}, "3", child, ...).
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") Object.assign(el.style, v); // CSSOM: the CSP forbids style attributes
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

async function api(method, url, body) {
  const opt = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.headers["X-CSRF-Token"] = csrf;
    opt.body = JSON.stringify(body);
  }
  const res = await fetch(url, opt);
  let data = {};
  try { data = await res.json(); } catch { /* an HTML error page */ }
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

let toastTimer;
function toast(msg, bad) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

const fmtTime = (s) => s ? new Date(s).toLocaleString() : "–";
const badge = (text, cls) => h("span", { class: `badge ${cls || ""}` }, text);
const json = (v) => { try { return JSON.stringify(v, null, 2); } catch { return String(v); } };

function heading(title, sub) {
  return [h("h1", {}, title), h("p", { class: "sub" }, sub)];
}

// ------------------------------------------------------------ Approvals

const cards = new Map(); // approval id -> card element, kept across redraws

function timeLeft(a) {
  const ms = new Date(a.expires_at).getTime() - (Date.now() + a._skew);
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  return `expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// argsView shows every argument: long values folded around a marker that
// counts what is left out, "Show all" for every byte, and "Reveal" for the
// exact arguments, secrets included, while the call waits.
function argsView(a) {
  const pre = h("pre", { class: "args" }, a.args_folded);
  const note = h("p", { class: "muted args-note" },
    a.hidden ? "Secrets are shown as [REDACTED N bytes], with their length." : "");
  const tools = [];
  let whole = false;
  if (a.folded) {
    const all = h("button", { "data-action": "show-all", onclick: () => {
      whole = !whole;
      pre.textContent = whole ? a.args_text : a.args_folded;
      all.textContent = whole ? "Fold long values" : "Show all";
    } }, "Show all");
    tools.push(all);
  }
  if (a.hidden && a.status === "pending") {
    const reveal = h("button", { "data-action": "reveal", title: "the exact arguments the call will run with, secrets included",
      onclick: async () => {
        reveal.disabled = true;
        try {
          const r = await api("POST", `/api/approvals/${encodeURIComponent(a.id)}/reveal`, {});
          pre.textContent = r.args_text;
          pre.classList.add("revealed");
          note.textContent = "The exact arguments, secrets included. They are kept only until this call is answered.";
          tools.forEach((b) => { b.hidden = true; });
        } catch (e) {
          toast(e.message, true);
          reveal.disabled = false;
        }
      } }, "Reveal secrets");
    tools.push(reveal);
  }
  return [pre, note, tools.length ? h("div", { class: "args-tools" }, tools) : null];
}

function approvalCard(a) {
  const reason = h("input", { class: "reason", placeholder: "reason for denying (optional)", "aria-label": "reason", name: "reason" });
  const left = h("span", { class: "right", "data-expires": a.expires_at });
  const buttons = [];
  const act = async (what, body) => {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const r = await api("POST", `/api/approvals/${encodeURIComponent(a.id)}/${what}`, body);
      toast(r.message);
    } catch (e) {
      toast(e.message, true);
      buttons.forEach((b) => { b.disabled = false; });
    }
    refresh();
  };
  buttons.push(
    h("button", { class: "primary", "data-action": "approve", onclick: () => act("approve", { remember: false }) }, "Approve once"),
    h("button", { "data-action": "remember", title: `adds a rule: allow ${a.tool} on ${a.server}`, onclick: () => act("approve", { remember: true }) }, "Approve and remember"),
    h("button", { class: "danger", "data-action": "deny", onclick: () => act("deny", { reason: reason.value }) }, "Deny"));
  const card = h("section", { class: "card", id: `approval-${a.id}`, "data-approval": a.id },
    h("div", { class: "card-head" },
      badge(a.risk, `risk-${a.risk}`),
      h("span", { class: "tool" }, a.tool),
      h("span", { class: "muted" }, "on ", h("strong", {}, a.server), a.client ? ` (${a.client})` : ""),
      left),
    h("dl", { class: "facts" },
      h("dt", {}, "why"), h("dd", {}, a.reason || "–"),
      h("dt", {}, "arguments"), h("dd", {}, argsView(a)),
      h("dt", {}, "approval"), h("dd", { class: "mono" }, a.id, h("span", { class: "muted" }, ` · asked ${fmtTime(a.created_at)}`))),
    h("div", { class: "actions" }, buttons[0], buttons[1], h("span", { class: "sep" }), reason, buttons[2]));
  card._approval = a;
  return card;
}

function tick() {
  for (const card of cards.values()) {
    const el = card.querySelector(".right");
    const text = timeLeft(card._approval);
    el.textContent = text;
    const ms = new Date(card._approval.expires_at).getTime() - Date.now();
    el.classList.toggle("soon", ms < 60_000);
  }
}

async function drawApprovals() {
  const data = await api("GET", "/api/approvals");
  let list = main.querySelector("#pending");
  if (!list) {
    main.replaceChildren(...heading("Approvals", "Tool calls waiting for a person. The waiting client gets the answer within a second."),
      h("div", { id: "pending" }), h("h2", {}, "Recently answered"), h("div", { id: "recent" }));
    list = main.querySelector("#pending");
    cards.clear();
  }
  const ids = new Set(data.pending.map((a) => a.id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) { card.remove(); cards.delete(id); }
  }
  list.querySelector(".empty")?.remove();
  for (const a of data.pending) {
    a._skew = Date.now() - a.now;
    if (!cards.has(a.id)) {
      const card = approvalCard(a);
      cards.set(a.id, card);
      list.append(card);
      if (location.search.includes(a.id)) { card.classList.add("flash"); card.scrollIntoView({ block: "center" }); }
    }
  }
  if (data.pending.length === 0) list.append(h("div", { class: "empty" }, "No call is waiting for approval."));
  tick();
  const recent = main.querySelector("#recent");
  recent.replaceChildren(data.recent.length === 0 ? h("p", { class: "muted" }, "Nothing answered yet.") :
    h("table", {},
      h("thead", {}, h("tr", {}, ["Answered", "Server", "Tool", "Risk", "Status", "By", "Note"].map((c) => h("th", {}, c)))),
      h("tbody", {}, data.recent.map((a) => h("tr", {},
        h("td", {}, fmtTime(a.decided_at || a.expires_at)), h("td", {}, a.server), h("td", { class: "mono" }, a.tool),
        h("td", {}, badge(a.risk, `risk-${a.risk}`)), h("td", {}, badge(a.status, `st-${a.status}`)),
        h("td", {}, a.decided_by || "–"), h("td", {}, a.note || ""))))));
}

// ------------------------------------------------------------ Activity

const activity = { offset: 0, open: new Set(), filters: {} };
const kinds = ["", "call", "outcome", "denied", "approval", "drift", "session_start", "session_end", "initialize", "tools_list", "noise", "bypass"];

function activityFilters() {
  const f = activity.filters;
  const input = (name, label, attrs) => h("label", {}, label, h("input", { name, value: f[name] || "", ...attrs }));
  const form = h("form", { class: "bar", id: "filters", onsubmit: (e) => {
    e.preventDefault();
    activity.filters = Object.fromEntries(new FormData(form).entries());
    activity.offset = 0;
    refresh();
  } },
    input("server", "server", { placeholder: "any", size: 12 }),
    input("tool", "tool", { placeholder: "any", size: 12 }),
    h("label", {}, "kind", h("select", { name: "kind" }, kinds.map((k) => h("option", { value: k, selected: f.kind === k }, k || "any")))),
    input("decision", "decision", { placeholder: "any", size: 10 }),
    input("since", "since", { type: "datetime-local" }),
    input("until", "until", { type: "datetime-local" }),
    h("button", { type: "submit" }, "Filter"),
    h("span", { class: "sep" }),
    h("button", { type: "button", id: "verify", onclick: verify }, "Verify audit trail"),
    h("span", { id: "verify-result", class: "result" }));
  return form;
}

async function verify() {
  const out = document.getElementById("verify-result");
  out.textContent = "verifying…";
  out.className = "result";
  try {
    const r = await api("POST", "/api/verify", {});
    out.textContent = r.message;
    out.className = `result ${r.intact ? "ok" : "bad"}`;
  } catch (e) { out.textContent = e.message; out.className = "result bad"; }
}

function summary(r) {
  const d = r.data || {};
  const parts = [];
  for (const k of ["reason", "args", "status", "duration_ms", "error", "how", "approver", "approval_id"]) {
    if (d[k] === undefined || d[k] === r.decision) continue;
    parts.push(`${k}=${typeof d[k] === "object" ? JSON.stringify(d[k]) : d[k]}`);
  }
  return parts.join(" ");
}

async function recordDetail(seq, cell) {
  cell.replaceChildren(h("span", { class: "muted" }, "verifying the chain up to this record…"));
  try {
    const d = await api("GET", `/api/records/${seq}`);
    const r = d.record;
    cell.replaceChildren(h("dl", { class: "facts" },
      h("dt", {}, "record"), h("dd", {}, `#${r.seq} · ${r.kind} · ${fmtTime(r.time)}`),
      h("dt", {}, "hash"), h("dd", { class: "mono" }, r.hash),
      h("dt", {}, "previous"), h("dd", { class: "mono" }, r.prev || "(first record)"),
      h("dt", {}, "signature"), h("dd", { class: "mono" }, r.sig),
      h("dt", {}, "chain"), h("dd", {}, d.verifies ? badge("verifies up to here", "st-intact") :
        [badge("broken", "st-broken"), ` at record ${d.bad_seq}: ${d.reason}`]),
      h("dt", {}, "data"), h("dd", {}, h("pre", {}, json(r.data)))));
  } catch (e) { cell.replaceChildren(h("span", { class: "result bad" }, e.message)); }
}

async function drawActivity() {
  const q = new URLSearchParams({ ...activity.filters, offset: activity.offset });
  for (const [k, v] of [...q.entries()]) if (v === "") q.delete(k);
  const data = await api("GET", `/api/records?${q}`);
  if (!main.querySelector("#filters")) {
    main.replaceChildren(...heading("Activity", "The signed audit trail, newest first. Open a record to see its hash, link and signature."),
      activityFilters(), h("div", { id: "records" }));
  }
  const rows = [];
  for (const r of data.records) {
    const open = activity.open.has(r.seq);
    const tr = h("tr", { class: `clickable${open ? " open" : ""}`, "data-seq": r.seq }, h("td", { class: "num" }, r.seq),
      h("td", { class: "nowrap" }, fmtTime(r.time)), h("td", {}, r.server), h("td", {}, badge(r.kind === "denied" && r.decision === "cancelled" ? "cancelled" : r.kind)),
      h("td", { class: "mono" }, r.tool || ""), h("td", {}, r.decision || ""), h("td", { class: "summary", title: summary(r) }, summary(r)));
    const detail = h("td", { class: "detail", colspan: 7 });
    const drow = h("tr", { hidden: !open }, detail);
    tr.addEventListener("click", () => {
      if (activity.open.has(r.seq)) { activity.open.delete(r.seq); drow.hidden = true; tr.classList.remove("open"); return; }
      activity.open.add(r.seq); drow.hidden = false; tr.classList.add("open");
      recordDetail(r.seq, detail);
    });
    if (open) recordDetail(r.seq, detail);
    rows.push(tr, drow);
  }
  const box = main.querySelector("#records");
  box.replaceChildren(data.records.length === 0 ? h("div", { class: "empty" }, "No records match.") :
    h("table", {}, h("thead", {}, h("tr", {}, ["#", "Time", "Server", "Kind", "Tool", "Decision", "Details"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)),
    h("div", { class: "pager" },
      h("button", { disabled: activity.offset === 0, onclick: () => { activity.offset = Math.max(0, activity.offset - data.page_size); refresh(); } }, "← Newer"),
      h("button", { disabled: !data.more, onclick: () => { activity.offset += data.page_size; refresh(); } }, "Older →"),
      h("span", { class: "muted" }, data.records.length ? `records ${activity.offset + 1}–${activity.offset + data.records.length}` : "")));
}

// ------------------------------------------------------------ Servers

const serversOpen = new Set();

async function trustDetail(id, cell) {
  try {
    const d = await api("GET", `/api/servers/${encodeURIComponent(id)}/trust`);
    cell.replaceChildren(
      h("p", {}, h("strong", {}, `Trust ${d.score.overall.toFixed(2)}`), h("span", { class: "muted" }, ` · from the record since ${fmtTime(d.score.since)}`)),
      d.score.note ? h("p", { class: "muted" }, d.score.note) : "",
      h("table", {}, h("thead", {}, h("tr", {}, ["Factor", "Value", "Weight", "Contribution", "Evidence"].map((c) => h("th", {}, c)))),
        h("tbody", {}, d.factors.map((f) => h("tr", {},
          h("td", { class: "mono" }, f.name),
          h("td", { class: "nowrap" }, h("span", { class: "bar-meter" }, h("span", { style: { width: `${Math.round(f.value * 100)}%` } })), f.value.toFixed(2)),
          h("td", { class: "num" }, f.weight.toFixed(2)), h("td", { class: "num" }, f.contribution.toFixed(3)),
          h("td", {}, f.evidence, f.neutral ? h("span", { class: "muted" }, " (neutral)") : ""))))),
      h("h3", {}, "What the scanner says"),
      d.findings.length === 0
        ? h("p", { class: "muted", "data-scan": "clean" }, `Nothing in the ${d.tools} tool definition${d.tools === 1 ? "" : "s"} it last listed.`)
        : h("ul", { "data-scan": "findings" }, d.findings.map((x) => h("li", {},
          badge(x.severity, x.severity === "hard" ? "st-broken" : "st-changed"), " ",
          h("strong", {}, x.tool), ` (${x.rule}, in ${x.where}): ${x.why}`))));
  } catch (e) { cell.replaceChildren(h("span", { class: "result bad" }, e.message)); }
}

// scanText says what the scanner finds in a server's tools, as list does.
function scanText(sc) {
  if (!sc) return "–";
  if (!sc.hard && !sc.soft) return "clean";
  return [sc.hard ? `${sc.hard} hard` : "", sc.soft ? `${sc.soft} soft` : ""].filter(Boolean).join(", ");
}

async function drawServers() {
  const data = await api("GET", "/api/servers");
  const rows = [];
  for (const s of data.servers) {
    const key = s.id || `${s.client}/${s.name}`;
    const open = serversOpen.has(key);
    const detail = h("td", { class: "detail", colspan: 11 });
    const drow = h("tr", { hidden: !open }, detail);
    const trust = s.trust === undefined || s.trust === null ? "–" : s.trust.toFixed(2);
    const tr = h("tr", { class: s.id ? `clickable${open ? " open" : ""}` : "" },
      h("td", { class: "nowrap" }, s.client), h("td", {}, h("strong", {}, s.name)),
      h("td", {}, badge(s.state, `st-${s.state.replace(/ /g, "-")}`), s.reason ? h("span", { class: "muted" }, ` ${s.reason}`) : "",
        s.url && s.state !== "skipped" ? h("div", { class: "muted", "data-remote": s.login || "none" }, `remote ${s.url} (${s.transport}), login: ${s.login || "none"}`) : ""),
      h("td", { class: "mono" }, s.fingerprint || "–"), h("td", {}, s.registration || "–"),
      h("td", { class: "num" }, s.calls), h("td", { class: "num" }, s.denied), h("td", { class: "num" }, s.cancelled),
      h("td", { class: "num" }, s.id ? h("button", { class: "small", title: "the eight factors and their evidence" }, trust) : trust),
      h("td", { class: "nowrap" }, scanText(s.scan)),
      h("td", { class: "nowrap" }, fmtTime(s.last_activity)));
    if (s.id) {
      tr.addEventListener("click", () => {
        if (serversOpen.has(key)) { serversOpen.delete(key); drow.hidden = true; tr.classList.remove("open"); return; }
        serversOpen.add(key); drow.hidden = false; tr.classList.add("open");
        trustDetail(s.id, detail);
      });
      if (open) trustDetail(s.id, detail);
    }
    rows.push(tr, drow);
  }
  main.replaceChildren(...heading("Servers", "Every client's MCP servers, their identity and how far they can be trusted. Click a trust score for its eight factors."),
    data.servers.length === 0 ? h("div", { class: "empty" }, "No servers yet: run aim-mcp install.") :
      h("table", {}, h("thead", {}, h("tr", {}, ["Client", "Server", "State", "Key", "Registration", "Calls", "Denied", "Cancelled", "Trust", "Scan", "Last activity"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)));
}

// ------------------------------------------------------------ Drift

async function accept(serverId, tool) {
  try {
    const r = await api("POST", "/api/drift/accept", { server_id: serverId, tool });
    toast(r.message);
  } catch (e) { toast(e.message, true); }
  refresh();
}

function sideBySide(m) {
  return [h("div", { class: "field" }, m.field),
    h("table", { class: "diff" }, h("thead", {}, h("tr", {}, h("th", {}, "pinned"), h("th", {}, "now"))),
      h("tbody", {}, m.rows.map((r) => h("tr", {},
        h("td", { class: r.kind === "-" || r.kind === "~" ? "del" : "" }, r.left || ""),
        h("td", { class: r.kind === "+" || r.kind === "~" ? "add" : "" }, r.right || "")))))];
}

async function drawDrift() {
  const data = await api("GET", "/api/drift");
  const count = document.getElementById("drift-count");
  count.hidden = data.tools.length === 0;
  count.textContent = data.tools.length;
  const byServer = new Map();
  for (const t of data.tools) {
    if (!byServer.has(t.server_id)) byServer.set(t.server_id, []);
    byServer.get(t.server_id).push(t);
  }
  const out = [...heading("Drift", "Tools whose name, description or schema changed since they were pinned. Calls to them wait for a person until you accept the change.")];
  if (data.tools.length === 0) out.push(h("div", { class: "empty" }, "Every tool is as pinned."));
  for (const [id, tools] of byServer) {
    out.push(h("div", { class: "server-group" }, h("h2", {}, `${tools[0].server} `, h("span", { class: "muted" }, `(${tools[0].client})`)),
      h("button", { class: "small", "data-accept-server": id, onclick: () => accept(id, "") }, `Accept all of ${tools[0].server}`)));
    for (const t of tools) {
      out.push(h("section", { class: "card", "data-drift": `${t.server}/${t.tool}` },
        h("div", { class: "card-head" }, badge(t.state, `st-${t.state}`), h("span", { class: "tool" }, t.tool),
          t.changed ? h("span", { class: "muted" }, `changed: ${t.changed.join(", ")}`) : "",
          h("span", { class: "right" }, `since ${fmtTime(t.since)}`)),
        t.members.map(sideBySide),
        h("div", { class: "actions spaced" },
          h("button", { class: "primary", "data-accept": t.tool, onclick: () => accept(id, t.tool) },
            t.state === "removed" ? "Accept the removal" : "Accept this change"))));
    }
  }
  main.replaceChildren(...out);
}

// ------------------------------------------------------------ Policy

const verdictText = { allow: "the call runs", approve: "the call waits for a person's approval", deny: "the call is refused" };

function policyForms() {
  const add = h("form", { class: "bar", id: "add-rule", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api("POST", "/api/policy/rules", Object.fromEntries(new FormData(add).entries()));
      toast(r.message);
      add.reset();
    } catch (err) { toast(err.message, true); }
    refresh();
  } },
    h("label", {}, "server", h("input", { name: "server", placeholder: "*", size: 12 })),
    h("label", {}, "tool", h("input", { name: "tool", placeholder: "*", size: 14 })),
    h("label", {}, "when", h("input", { name: "when", placeholder: "/path^=prefix", size: 14 })),
    h("label", {}, "risk", h("select", { name: "risk" }, ["", "low", "medium", "high", "critical"].map((r) => h("option", { value: r }, r || "–")))),
    h("label", {}, "action", h("select", { name: "action" }, ["", "allow", "approve", "deny"].map((r) => h("option", { value: r }, r || "–")))),
    h("button", { type: "submit", class: "primary" }, "Add rule"));
  const out = h("div", { id: "check-result" });
  const check = h("form", { class: "bar", id: "check", onsubmit: async (e) => {
    e.preventDefault();
    const q = new URLSearchParams(new FormData(check));
    try {
      const d = await api("GET", `/api/policy/check?${q}`);
      out.replaceChildren(h("span", { class: `verdict ${d.action}` }, verdictText[d.action] || d.action),
        h("span", { class: "muted" }, `  action ${d.action} from ${d.action_source}; risk ${d.risk} from ${d.risk_source}`));
    } catch (err) { out.replaceChildren(h("span", { class: "result bad" }, err.message)); }
  } },
    h("label", {}, "server", h("input", { name: "server", required: true, size: 12 })),
    h("label", {}, "tool", h("input", { name: "tool", required: true, size: 14 })),
    h("label", {}, "arguments (JSON)", h("input", { name: "args", placeholder: "{}", size: 30 })),
    h("button", { type: "submit" }, "What would happen?"));
  return [h("h2", {}, "Add a rule"), add, h("h2", {}, "What would happen?"), check, out];
}

async function drawPolicy() {
  const data = await api("GET", "/api/policy");
  if (!main.querySelector("#rules")) {
    main.replaceChildren(...heading("Policy", "Each call gets a risk and an action from the most specific matching rule. Running proxies pick up changes within a second."),
      h("div", { id: "rules" }), h("p", { id: "defaults", class: "muted" }), ...policyForms());
  }
  const remove = async (id) => {
    try { toast((await api("POST", `/api/policy/rules/${id}/remove`, {})).message); } catch (e) { toast(e.message, true); }
    refresh();
  };
  main.querySelector("#rules").replaceChildren(data.rules.length === 0 ? h("div", { class: "empty" }, "No rules: the defaults below decide.") :
    h("table", {}, h("thead", {}, h("tr", {}, ["Rule", "Server", "Tool", "When", "Risk", "Action", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, data.rules.map((r) => h("tr", {},
        h("td", {}, r.origin), h("td", { class: "mono" }, r.server), h("td", { class: "mono" }, r.tool),
        h("td", { class: "mono" }, r.when_text || "–"), h("td", {}, r.risk ? badge(r.risk, `risk-${r.risk}`) : "–"),
        h("td", {}, r.action || "–"),
        h("td", {}, r.id ? h("button", { class: "small danger", "data-remove": r.id, onclick: () => remove(r.id) }, "Remove") : h("span", { class: "muted" }, "edit config.yaml")))))));
  const a = data.actions || {};
  main.querySelector("#defaults").textContent = `Defaults: low ${a.low}, medium ${a.medium}, high ${a.high}, critical ${a.critical}; ` +
    `tools nothing classifies are ${data.default_risk} risk; drift: ${data.drift_action}; fail mode ${data.fail_mode}.`;
}

// ------------------------------------------------------------ Reports

function drawReports() {
  if (main.querySelector("form")) return; // nothing live here
  const today = new Date();
  const ago = new Date(today.getTime() - 30 * 86400e3);
  const day = (d) => d.toISOString().slice(0, 10);
  const tomorrow = new Date(today.getTime() + 86400e3);
  const types = h("select", { name: "type" });
  api("GET", "/api/report/types").then((list) => types.replaceChildren(
    ...list.map((f) => h("option", { value: f.type }, f.name)))).catch((e) => toast(e.message, true));
  main.replaceChildren(...heading("Reports", "Compliance evidence for a period: identities, calls, approvals, drift and the audit chain's verification, mapped to the framework's controls."),
    h("form", { class: "bar card", method: "get", action: "/api/report" },
      h("label", {}, "framework", types),
      h("label", {}, "format", h("select", { name: "format" },
        h("option", { value: "pdf" }, "PDF"), h("option", { value: "json" }, "JSON"), h("option", { value: "csv" }, "CSV (one row per call)"))),
      h("label", {}, "from", h("input", { type: "date", name: "since", value: day(ago) })),
      h("label", {}, "to (excluded)", h("input", { type: "date", name: "until", value: day(tomorrow) })),
      h("button", { type: "submit", class: "primary" }, "Download")),
    h("p", { class: "muted" }, "The report collects the evidence aim-mcp recorded; it is not an attestation of compliance."));
}

// ------------------------------------------------------------ live updates

const pages = { approvals: drawApprovals, activity: drawActivity, servers: drawServers, drift: drawDrift, policy: drawPolicy, reports: drawReports };

let drawing = null, again = false;
async function refresh() {
  if (drawing) { again = true; return drawing; }
  drawing = (async () => {
    do {
      again = false;
      try { await pages[page](); } catch (e) { toast(e.message, true); }
      try { await counts(); } catch { /* the badge can wait */ }
    } while (again);
  })();
  await drawing;
  drawing = null;
}

async function counts() {
  const a = page === "approvals" ? null : await api("GET", "/api/approvals");
  if (a) {
    const c = document.getElementById("pending-count");
    c.hidden = a.pending.length === 0;
    c.textContent = a.pending.length;
  } else {
    const c = document.getElementById("pending-count");
    c.hidden = cards.size === 0;
    c.textContent = cards.size;
  }
}

for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
const live = document.getElementById("live");
const events = new EventSource("/events");
events.addEventListener("hello", () => { live.textContent = "live"; live.classList.remove("off"); refresh(); });
events.addEventListener("change", () => refresh());
events.addEventListener("error", () => { live.textContent = "reconnecting"; live.classList.add("off"); });
if (page === "approvals") setInterval(tick, 1000); // the time left, drawn locally
refresh();
