#!/usr/bin/env node
// The `roster` command: the compiled CLI when built (the Docker image), else the TypeScript
// sources through tsx's loader (a checkout needs no build step).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/roster.js', import.meta.url);
if (existsSync(fileURLToPath(compiled)) && !existsSync(fileURLToPath(new URL('../src', import.meta.url)))) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  await import('../src/roster.ts');
}
