#!/usr/bin/env node
// The `roster` command: runs the TypeScript CLI through tsx's loader (no build step needed).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/admin/cli/main.ts');
