// Shared by bench.mjs and bench-remote.mjs: the operations timed, how
// paths are interleaved, and the statistics reported.

export const ops = {
  echo: (c, i) => c.callTool({ name: "echo", arguments: { message: `bench ${i}` } }),
  ping: (c) => c.ping(),
  "tools/list": (c) => c.listTools(),
};

// measure runs n operations on every path, one at a time, rotating which path
// goes first in each round.
export async function measure(paths, op, n) {
  const lat = Object.fromEntries(paths.map((p) => [p.name, new Float64Array(n)]));
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < paths.length; k++) {
      const p = paths[(i + k) % paths.length];
      const t0 = process.hrtime.bigint();
      await ops[op](p.client, i);
      lat[p.name][i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }
  return lat;
}

export function stats(a) {
  const s = Float64Array.from(a).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  let sum = 0;
  for (const x of s) sum += x;
  return { n: s.length, mean: sum / s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
}

export const f3 = (x) => x.toFixed(3);
export const f2 = (x) => x.toFixed(2);
