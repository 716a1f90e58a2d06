// Linux /proc helpers for the e2e driver and the benchmark: the process tree
// under a pid, waiting for it to be gone, and memory figures.
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

// stat returns {pid, ppid, state, start} or null when the process is gone.
export function stat(pid) {
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "pid (comm) state ppid ... starttime" — comm may hold spaces and parentheses
  const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0], ppid: Number(rest[1]), start: rest[19] };
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}

// processTree returns rootPid and all its live descendants.
export function processTree(rootPid) {
  if (!rootPid) return [];
  const all = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(Number(d));
    if (st) all.push(st);
  }
  const out = [];
  const want = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!want.has(p.pid) && want.has(p.ppid)) {
        want.add(p.pid);
        grew = true;
      }
    }
  }
  for (const p of all) {
    if (want.has(p.pid) && p.state !== "Z") out.push({ ...p, cmd: cmdline(p.pid) });
  }
  return out;
}

function alive(p) {
  const st = stat(p.pid);
  return st !== null && st.start === p.start && st.state !== "Z";
}

// waitGone polls until every process of tree has exited (a zombie counts as
// exited) and returns those still alive after ms.
export async function waitGone(tree, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = tree.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(10);
  }
}

// memory returns {rssKiB, hwmKiB} from /proc/PID/status.
export function memory(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (t, k) => Number((t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) ?? [])[1]);
  const out = { rssKiB: kib(s, "VmRSS"), hwmKiB: kib(s, "VmHWM") };
  // RSS counts the binary's pages, which every process running it shares;
  // PSS shares them out; anonymous memory (heap, stacks) is what no other
  // process can share: what one more proxy adds.
  try {
    const r = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    out.pssKiB = kib(r, "Pss");
    out.anonKiB = kib(r, "Anonymous");
  } catch {
    // no smaps_rollup (kernel before 4.14): RSS only
  }
  return out;
}

// children lists the pids whose parent is pid.
export function children(pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(Number(d));
    if (st && st.ppid === pid && st.state !== "Z") out.push(st.pid);
  }
  return out;
}
