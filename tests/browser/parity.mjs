// The browser-versus-native comparison that every browser test makes, and the native answers it
// compares against (`<dir>/<name>.reference.json`, written by the CLI in scripts/test.sh).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './chromium.mjs';
import { serve } from './server.mjs';

/** The history every browser test asks about (scripts/test.sh gives the CLI the same one). */
export const HISTORY = ['50', '172', '133'];
export const TOLERANCE = 1e-4;

export function reference(dir, name) {
  return JSON.parse(readFileSync(join(dir, `${name}.reference.json`), 'utf8'));
}

/** Same top-k as the native list: scores within TOLERANCE rank by rank, and where the ids
 * differ, the swapped items' native scores are within TOLERANCE of each other. Returns the
 * largest score difference seen (rank by rank and item by item). */
export function assertParity(browser, native) {
  assert.equal(browser.length, native.length);
  const nativeScore = new Map(native.map((r) => [r.item, r.score]));
  const last = native[native.length - 1].score;
  let worst = 0;
  browser.forEach((b, r) => {
    const diff = Math.abs(b.score - native[r].score);
    worst = Math.max(worst, diff);
    assert.ok(diff <= TOLERANCE, `rank ${r + 1}: browser ${b.score} vs native ${native[r].score}`);
    if (b.item !== native[r].item) {
      const theirs = nativeScore.get(b.item) ?? last;
      assert.ok(Math.abs(theirs - native[r].score) <= TOLERANCE, `rank ${r + 1}: ${b.item} vs ${native[r].item}`);
    }
    if (nativeScore.has(b.item)) worst = Math.max(worst, Math.abs(b.score - nativeScore.get(b.item)));
  });
  return worst;
}

/** A top-10 for HISTORY: 10 distinct items, none from the history, each titled, matching native. */
export function assertTop10(recs, native, label) {
  const ids = recs.map((r) => r.item);
  assert.equal(new Set(ids).size, 10, `${label}: 10 distinct items (${ids})`);
  assert.ok(ids.every((i) => !HISTORY.includes(i)), `${label}: history excluded`);
  assert.ok(recs.every((r) => typeof r.title === 'string' && r.title.length > 0), `${label}: titles`);
  return assertParity(recs, native);
}

/**
 * Serves `app` (at /app/) and the bundles folder `dir` (at /bundles/), opens the app's page in
 * Chromium without WebGPU, waits for its `window.result` and checks its top 10 for HISTORY
 * against the native answer for `bundle`; `check(result, paths)` adds the caller's assertions.
 * Returns `{ result, paths, worst }`.
 */
export async function runAppPage({ app, dir, bundle, label, screenshot, check }) {
  const { server, log, url } = await serve(0, { folders: { 'app/': app, 'bundles/': dir } });
  const { context, close } = await launch(['--disable-webgpu']);
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    await page.goto(`${url}/app/?bundle=/bundles/${bundle}/&history=${HISTORY.join(',')}`);
    await page.waitForFunction(() => window.result !== undefined);
    const result = await page.evaluate(() => window.result);
    await page.screenshot({ path: screenshot });
    assert.deepEqual(errors, [], 'errors in the page');
    assert.equal(result.error, undefined, 'the page failed');
    assert.equal(result.backend, 'cpu');
    const worst = assertTop10(result.recs, reference(dir, bundle), label);
    const paths = log.map((r) => new URL(r.url, url).pathname);
    check(result, paths);
    return { result, paths, worst };
  } finally {
    await close();
    server.close();
  }
}
