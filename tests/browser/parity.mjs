// The browser-versus-native comparison that every browser test makes, and the native answers it
// compares against (`<dir>/<name>.reference.json`, written by the CLI in scripts/test.sh).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
