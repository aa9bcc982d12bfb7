// Summarizes a V8 CPU profile (node --cpu-prof): the functions with the most
// self time, and the most inclusive time (a function counted once per sample
// however deep it recurses), each with its file:line.
//
//   node bench/cpuprofile.mjs <file.cpuprofile> [<top N>] [<from ms> <to ms>]
//
// from/to: only samples in that window, ms since the profile's start.
import fs from 'node:fs';

const [file, topArg, fromArg, toArg] = process.argv.slice(2);
if (!file) throw new Error('usage: cpuprofile.mjs <file.cpuprofile> [<top N>] [<from ms> <to ms>]');
const top = Number(topArg ?? 30);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => {
  const f = n.callFrame;
  const url = f.url ? f.url.replace(/^file:\/\//, '').replace(/.*\/(dist|node_modules)\//, '$1/') : '';
  return `${f.functionName || '(anon)'} ${url}${url ? `:${f.lineNumber + 1}` : ''}`;
};
const self = new Map();
const incl = new Map();
let t = 0;
let total = 0;
const from = fromArg === undefined ? -Infinity : Number(fromArg) * 1000;
const to = toArg === undefined ? Infinity : Number(toArg) * 1000;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  t += dt;
  if (t < from || t > to) continue;
  const us = p.timeDeltas[i + 1] ?? dt; // the sample stands for the time until the next one
  total += us;
  let n = byId.get(p.samples[i]);
  const l = label(n);
  self.set(l, (self.get(l) ?? 0) + us);
  const seen = new Set();
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    const ll = label(byId.get(id));
    if (seen.has(ll)) continue;
    seen.add(ll);
    incl.set(ll, (incl.get(ll) ?? 0) + us);
  }
}
const ms = (us) => (us / 1000).toFixed(0).padStart(6);
console.log(`${file}: ${ms(total)} ms sampled (${((p.endTime - p.startTime) / 1000).toFixed(0)} ms profiled)`);
console.log('self:');
for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms  ${l}`);
console.log('inclusive:');
for (const [l, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ms  ${l}`);
