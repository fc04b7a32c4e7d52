#!/usr/bin/env node
// Builds the dashboard (dashboard/src) into dist/dashboard: the two pages as they are, the app's
// script and styles bundled by esbuild (Preact, uPlot and the app's own code; nothing fetched
// at run time), and the sign-in page's stylesheet. Run by `npm run build`.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(root, '..', 'dist', 'dashboard');
rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });
await build({
  entryPoints: { app: path.join(root, 'src', 'app.tsx'), signin: path.join(root, 'src', 'signin.css') },
  outdir: path.join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const page of ['index.html', 'signin.html'])
  copyFileSync(path.join(root, 'src', page), path.join(out, page));
