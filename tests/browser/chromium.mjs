// Debian's Chromium, headless, driven by playwright-core, with the flags that work here as root
// without network (ENVIRONMENT.md); `args` adds e.g. '--enable-unsafe-webgpu'. Each launch gets
// a fresh profile, removed by `close()`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch(args, options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'fusionrec-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...BASE_ARGS, ...args],
    ...options,
  });
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
