#!/usr/bin/env node
// Share of a process's CPU spent under given functions, from a V8 .cpuprofile (node --cpu-prof):
// robust to a busy machine, since the work measured and the whole are sampled in the same run.
// Usage: node bench/profile-share.mjs <file.cpuprofile> <functionName>[,<functionName>…]
import { readFileSync } from 'node:fs';
import process from 'node:process';

const [file, names] = process.argv.slice(2);
if (!file || !names) {
  console.error('usage: node bench/profile-share.mjs <file.cpuprofile> <functionName>[,<functionName>…]');
  process.exit(2);
}
const wanted = new Set(names.split(','));
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map();
for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);

/** Whether a node runs under (or is) one of the wanted functions. */
function under(id) {
  for (let at = id; at !== undefined; at = parent.get(at)) {
    if (wanted.has(byId.get(at).callFrame.functionName)) return true;
  }
  return false;
}
let busy = 0;
let inside = 0;
for (const [id, count] of self) {
  const name = byId.get(id).callFrame.functionName;
  // Idle is not work; native code outside JS ("(program)") and GC are the process's work too.
  if (name === '(idle)') continue;
  busy += count;
  if (under(id)) inside += count;
}
const pct = (100 * inside) / busy;
console.log(
  `${names}: ${inside} of ${busy} busy samples = ${pct.toFixed(2)}% of the process's CPU samples (idle excluded)`,
);
