// The bad-input battery, JavaScript half (issue 12; the command-line half is tests/battery.rs):
// in Chromium (headless, WebGPU unavailable: the CPU backend), damaged bundles through
// `Recommender.load`, hostile calls on one good Recommender (ease-mm: MiniLM text + tabular
// catalog content), corrupted saved sessions, and calls after `dispose()`. Every case asserts
// the rejected Promise is an `Error` whose `code` is the expected one (or, for input that is
// valid if unusual, a correct answer); none passes by "not crashing". After every case the good
// Recommender must answer the reference query with exactly the top 10 it gave before the battery
// (ids and scores), and no wasm panic may reach the console.
//   node tests/browser/battery.mjs [models/ci]
// BATTERY_MARKDOWN=1 also prints the table as SECURITY.md has it; BATTERY_VERBOSE=1 each
// case's error message.
// The damaged bundles and the test images and audio are made here, in memory, and served to
// the page through Playwright routes under /battery/: nothing is written to disk.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { launch } from './chromium.mjs';
import { serve } from './server.mjs';

const dir = process.argv[2] ?? 'models/ci';
const GOOD = 'ease-mm'; // stores MiniLM text + tabular catalog content: addItem by text works
const ENCODERS = { text: '/data/minilm/', image: '/data/efficientnet-lite0/efficientnet-lite0-57934424.pth' };
const HISTORY = [{ item: '50' }, { item: '172' }, { item: '133' }];
const CASE_TIMEOUT_MS = 60_000; // longer is a hang
const started = Date.now();

// ---------------------------------------------------------------------------------------------
// Damaged bundles, made from the CI bundles in memory.

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

function readBundle(name) {
  return {
    manifest: JSON.parse(readFileSync(join(dir, name, 'manifest.json'), 'utf8')),
    weights: readFileSync(join(dir, name, 'weights.safetensors')),
  };
}

/** A safetensors file's JSON header and the offset where its data starts. */
function header(weights) {
  const n = Number(weights.readBigUInt64LE(0));
  return { h: JSON.parse(weights.subarray(8, 8 + n).toString('utf8')), start: 8 + n };
}

/** A safetensors file of header `h` (padded with spaces to 8 bytes, as writers do) and `data`. */
function safetensors(h, data) {
  let text = JSON.stringify(h);
  while (text.length % 8 !== 0) text += ' ';
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([length, Buffer.from(text, 'utf8'), data]);
}

/** The manifest's entry for the weights, made to match `weights`. */
function fixChecksum(manifest, weights) {
  manifest.files['weights.safetensors'] = { bytes: weights.length, sha256: sha256(weights) };
}

// name → { manifest: Buffer, weights: Buffer | null (404) }, served at /battery/<slug>/.
const BUNDLES = new Map();
const bundleCases = [];

/** A load case: `edit(manifest, weights)` damages a copy of CI bundle `source` (returning new
 * weights or a raw manifest Buffer if it replaces them); `fix` updates the checksum after. */
function damaged(name, expect, source, edit, { fix = false, why } = {}) {
  const { manifest, weights } = readBundle(source);
  const out = edit(manifest, weights) ?? {};
  const w = out.weights === undefined ? weights : out.weights;
  if (fix) fixChecksum(manifest, w);
  const slug = `b${bundleCases.length}`;
  BUNDLES.set(slug, { manifest: out.manifest ?? Buffer.from(JSON.stringify(manifest)), weights: w });
  bundleCases.push({ name, expect, why, slug });
}

/** `weights` with the raw bytes of tensor `name` rewritten by `fill(bytes)`. */
function editTensor(weights, name, fill) {
  const { h, start } = header(weights);
  const [from, to] = h[name].data_offsets;
  const w = Buffer.from(weights);
  fill(w.subarray(start + from, start + to));
  return w;
}

/** `weights` with tensor `name` and its bytes removed, the other tensors' offsets shifted. */
function dropTensor(weights, name) {
  const { h, start } = header(weights);
  const entries = Object.entries(h)
    .filter(([k]) => k !== '__metadata__' && k !== name)
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  const next = {};
  if (h.__metadata__) next.__metadata__ = h.__metadata__;
  const parts = [];
  let at = 0;
  for (const [k, v] of entries) {
    const [from, to] = v.data_offsets;
    parts.push(weights.subarray(start + from, start + to));
    next[k] = { ...v, data_offsets: [at, at + to - from] };
    at += to - from;
  }
  return safetensors(next, Buffer.concat(parts));
}

/** `weights` with a new header (`edit(h)`), data unchanged. */
function editHeader(weights, edit) {
  const { h, start } = header(weights);
  edit(h);
  return safetensors(h, weights.subarray(start));
}

damaged('truncated weights', 'BUNDLE_CHECKSUM', 'bpr', (m, w) => ({ weights: w.subarray(0, w.length >> 1) }));
damaged('one bit flipped in the weights', 'BUNDLE_CHECKSUM', 'bpr', (m, w) => ({
  weights: editTensor(w, 'model.item_factors', (b) => (b[1001] ^= 0x08)),
}));
damaged('format_version 99', 'BUNDLE_VERSION', 'bpr', (m) => void (m.format_version = 99));
damaged("dims disagree with the id lists (items 1681)", 'BUNDLE_INVALID', 'bpr', (m) => void (m.dims.items -= 1), {
  why: /id maps/,
});
damaged('NaN-filled item factors, checksum updated', 'BUNDLE_INVALID', 'bpr', (m, w) => ({
  weights: editTensor(w, 'model.item_factors', (b) => {
    for (let i = 0; i < b.length; i += 4) b.writeFloatLE(NaN, i);
  }),
}), { fix: true, why: /finite|NaN/i });
damaged('dims.items = 10⁹ (manifest only)', 'BUNDLE_INVALID', 'bpr', (m) => void (m.dims.items = 1e9));
damaged('10⁹ items in dims and in the tensor shape, checksum updated', 'BUNDLE_INVALID', 'bpr', (m, w) => {
  m.dims.items = 1e9;
  return { weights: editHeader(w, (h) => (h['model.item_factors'].shape = [1e9, 128])) };
}, { fix: true });
damaged('a 1682×10⁹ tensor claimed in the header, checksum updated', 'BUNDLE_INVALID', 'bpr', (m, w) => ({
  weights: editHeader(w, (h) => (h['model.item_factors'].shape = [1682, 1e9])),
}), { fix: true });
damaged('manifest without "model"', 'BUNDLE_INVALID', 'bpr', (m) => void delete m.model, { why: /model/ });
damaged('manifest without "items"', 'BUNDLE_INVALID', 'bpr', (m) => void delete m.items, { why: /items/ });
damaged('manifest without "files"', 'BUNDLE_INVALID', 'bpr', (m) => void delete m.files);
damaged('duplicate item ids in the manifest', 'BUNDLE_INVALID', 'bpr', (m) => void (m.items[1] = m.items[0]), {
  why: /duplicate|twice|50|242/i,
});
damaged('negative weights size (bytes -1)', 'BUNDLE_INVALID', 'bpr', (m) => void (m.files['weights.safetensors'].bytes = -1));
damaged('negative dims.users', 'BUNDLE_INVALID', 'bpr', (m) => void (m.dims.users = -943));
damaged('manifest that is not JSON', 'BUNDLE_INVALID', 'bpr', () => ({ manifest: Buffer.from('{"format": "fusionrec-bundle", "format_version": 2, "files": {') }));
damaged('manifest of invalid UTF-8', 'BUNDLE_INVALID', 'bpr', () => ({ manifest: Buffer.from([0xff, 0xfe, 0x7b]) }));
damaged('manifest that is JSON null', 'BUNDLE_INVALID', 'bpr', () => ({ manifest: Buffer.from('null') }));
damaged('0-byte manifest', 'BUNDLE_INVALID', 'bpr', () => ({ manifest: Buffer.alloc(0) }));
damaged("format is not fusionrec's", 'BUNDLE_INVALID', 'bpr', (m) => void (m.format = 'safetensors-bundle'), {
  why: /format/,
});
damaged('int8 tensor without its .scale, checksum updated', 'BUNDLE_INVALID', 'bpr-int8', (m, w) => ({
  weights: dropTensor(w, 'model.item_factors.scale'),
}), { fix: true, why: /item_factors\.scale/ });
damaged('int8 tensors in a bundle claiming f32', 'BUNDLE_INVALID', 'bpr-int8', (m) => void delete m.precision, {
  why: /int8/i,
});
damaged('a files entry that is null', 'BUNDLE_INVALID', 'bpr', (m) => void (m.files['weights.safetensors'] = null));
damaged('weights listed but missing on the server (404)', 'NETWORK', 'bpr', () => ({ weights: null }));
damaged('a listed file on another origin', 'BUNDLE_INVALID', 'bpr', (m) => void (m.files['https://elsewhere.example/x'] = { bytes: 1, sha256: '0' }), {
  why: /not a file name/,
});
damaged('a listed file outside the bundle folder', 'BUNDLE_INVALID', 'bpr', (m) => void (m.files['../secret.json'] = { bytes: 1, sha256: '0' }), {
  why: /not a file name/,
});

// ---------------------------------------------------------------------------------------------
// Test images and audio, written byte by byte.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A PNG of `width`×`height` (colour type 2, RGB, `depth` bits) whose IDAT holds `rows` rows. */
function png(width, height, depth, rows = height, pixel = (x, y, c) => (x * 8 + y * 4 + c * 80) & 0xff) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([depth, 2, 0, 0, 0], 8); // depth, RGB, deflate, filter 0, no interlace
  const bytesPerSample = depth / 8;
  const stride = 1 + width * 3 * bytesPerSample;
  const raw = Buffer.alloc(stride * rows);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const at = y * stride + 1 + (x * 3 + c) * bytesPerSample;
        if (depth === 16) raw.writeUInt16BE((pixel(x, y, c) * 257) & 0xffff, at);
        else raw[at] = pixel(x, y, c);
      }
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A baseline CMYK JPEG (Adobe APP14, transform 0) of `size`×`size`, each component a flat
 * level: DC-only blocks coded with the standard luminance DC table and a one-symbol AC table
 * (EOB). Flat blocks are all a JPEG needs to be a real, decodable 4-component image. */
function cmykJpeg(size = 16, levels = [-200, 100, 0, 40]) {
  const segment = (marker, body) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, Buffer.from(body)]);
  };
  const adobe = [...Buffer.from('Adobe'), 0, 100, 0, 0, 0, 0, 0];
  const dqt = [0x00, ...new Array(64).fill(1)];
  const sof = [8, size >> 8, size & 0xff, size >> 8, size & 0xff, 4];
  for (let c = 1; c <= 4; c++) sof.push(c, 0x11, 0);
  const dcCounts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const dht = [0x00, ...dcCounts, ...Array.from({ length: 12 }, (_, i) => i)];
  const acCounts = [1, ...new Array(15).fill(0)];
  const dhtAc = [0x10, ...acCounts, 0x00];
  const sos = [4];
  for (let c = 1; c <= 4; c++) sos.push(c, 0x00);
  sos.push(0, 63, 0);
  // The standard DC luminance codes by category (ITU T.81 Table K.3).
  const DC_CODES = ['00', '010', '011', '100', '101', '110', '1110', '11110', '111110', '1111110', '11111110', '111111110'];
  let bits = '';
  const blocks = (size / 8) ** 2;
  for (let b = 0; b < blocks; b++) {
    for (let c = 0; c < 4; c++) {
      const diff = b === 0 ? levels[c] : 0;
      const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      bits += DC_CODES[category];
      if (category > 0) bits += (diff > 0 ? diff : diff + (1 << category) - 1).toString(2).padStart(category, '0');
      bits += '0'; // EOB
    }
  }
  while (bits.length % 8) bits += '1';
  const scan = [];
  for (let i = 0; i < bits.length; i += 8) {
    const byte = parseInt(bits.slice(i, i + 8), 2);
    scan.push(byte);
    if (byte === 0xff) scan.push(0x00);
  }
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xee, adobe),
    segment(0xdb, dqt),
    segment(0xc0, sof),
    segment(0xc4, dht),
    segment(0xc4, dhtAc),
    segment(0xda, sos),
    Buffer.from(scan),
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** GIF LZW data of `codes` at a fixed 3-bit width (minimum code size 2; a clear code before
 * every pixel keeps the table from growing), packed LSB first, as data sub-blocks. */
function gifLzw(pixels) {
  const codes = [...pixels.flatMap((p) => [4, p]), 5]; // clear, pixel, …, end
  const bytes = [];
  let acc = 0;
  let n = 0;
  for (const c of codes) {
    acc |= c << n;
    n += 3;
    while (n >= 8) {
      bytes.push(acc & 0xff);
      acc >>= 8;
      n -= 8;
    }
  }
  if (n > 0) bytes.push(acc & 0xff);
  return [0x02, bytes.length, ...bytes, 0x00];
}

/** An animated GIF89a: 2×2, two frames (black, white), looping (NETSCAPE2.0). */
function animatedGif() {
  const frame = (index) => [
    0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00, // graphic control: 100 ms
    0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0x00, // image descriptor 2×2, no local table
    ...gifLzw([index, index, index, index]),
  ];
  return Buffer.from([
    ...Buffer.from('GIF89a'), 2, 0, 2, 0, 0x80, 0, 0, // 2×2, global table of 2 colours
    0, 0, 0, 255, 255, 255,
    0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0'), 0x03, 0x01, 0x00, 0x00, 0x00,
    ...frame(0),
    ...frame(1),
    0x3b,
  ]);
}

/** A real one-hour WAV: 8 kHz, 8-bit mono PCM, a 440 Hz tone (28.8 MB). */
function hourWav(seconds = 3600, rate = 8000) {
  const n = seconds * rate;
  const out = Buffer.alloc(44 + n);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + n, 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate, 28); // bytes per second
  out.writeUInt16LE(1, 32); // block align
  out.writeUInt16LE(8, 34); // bits per sample
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(n, 40);
  const period = rate / 440;
  for (let i = 0; i < n; i++) out[44 + i] = 128 + Math.round(100 * Math.sin((2 * Math.PI * i) / period));
  return out;
}

const rocket = readFileSync('data/photos/rocket.jpg');
const coffee = readFileSync('data/photos/coffee.png');
const FIXTURES = new Map([
  ['empty.png', Buffer.alloc(0)],
  ['truncated.png', coffee.subarray(0, coffee.length >> 1)],
  ['header-only.jpg', rocket.subarray(0, rocket.indexOf(Buffer.from([0xff, 0xda])))],
  ['truncated.jpg', rocket.subarray(0, rocket.length >> 1)],
  ['huge-claim.png', png(20000, 20000, 8, 2)],
  ['16-bit.png', png(32, 32, 16)],
  ['cmyk.jpg', cmykJpeg()],
  ['animated.gif', animatedGif()],
  ['hour.wav', hourWav()],
  ['photo.png', coffee],
]);

// ---------------------------------------------------------------------------------------------
// Cases on the good Recommender (`rec` in the page), on a second throwaway one (`second`), and
// on saved sessions. `run` executes in the page (it is sent as source: it sees only the page's
// globals and `B`, the helpers installed below); `check(value)` judges an expected success.

const callCases = [];
/** A call that must reject with `expect`. */
const call = (name, expect, run, why) => callCases.push({ name, expect, run: String(run), why });
/** Valid if unusual input: must resolve, and `check` its answer (node side). */
const accept = (name, run, check) => callCases.push({ name, expect: 'ok', run: String(run), check });

// A caller's byte budget: refused once the manifest is read, before the weights come.
call('maxBytes below the bundle size', 'TOO_LARGE', () => Recommender.load('/models/ci/bpr/', { maxBytes: 100000 }).then((r) => (r.dispose(), 'loaded')));
call('maxBytes below the manifest alone', 'TOO_LARGE', () => Recommender.load('/models/ci/bpr/', { maxBytes: 1000 }).then((r) => (r.dispose(), 'loaded')));
call('maxBytes: -5', 'BAD_CONFIG', () => Recommender.load('/models/ci/bpr/', { maxBytes: -5 }));
accept('maxBytes above the bundle size', () => Recommender.load('/models/ci/bpr/', { maxBytes: 1e8 }).then((r) => (r.dispose(), 'loaded')), (v) => v === 'loaded');

// Histories and options.
call('unknown item in the history', 'UNKNOWN_ITEM', () => rec.recommend({ history: [{ item: '50' }, { item: 'no-such-item' }] }));
call('empty item id in the history', 'UNKNOWN_ITEM', () => rec.recommend({ history: [{ item: '50' }, { item: '' }] }));
call('k = 0', 'BAD_CONFIG', () => rec.recommend({ history: B.history }, { k: 0 }));
call('k = -1', 'BAD_CONFIG', () => rec.recommend({ history: B.history }, { k: -1 }));
call('k = 2.5', 'BAD_CONFIG', () => rec.recommend({ history: B.history }, { k: 2.5 }));
call('k = "ten"', 'BAD_CONFIG', () => rec.recommend({ history: B.history }, { k: 'ten' }));
call('k = Infinity', 'BAD_CONFIG', () => rec.recommend({ history: B.history }, { k: Infinity }));
accept(
  'k = 10⁹ (past the catalog: all of it)',
  async () => ({ recs: await rec.recommend({ history: B.history }, { k: 1e9 }), n: (await rec.items()).length }),
  ({ recs, n }) => {
    assert.equal(recs.length, n - 3, 'every unseen item, the added ones too');
    assert.deepEqual(recs.slice(0, 10), baseline);
  },
);
call('similar, k = -1', 'BAD_CONFIG', () => rec.similar('50', { k: -1 }));
call('history that is not an array (a string)', 'BAD_DATA', () => rec.recommend({ history: '50,172,133' }));
call('history events without "item"', 'BAD_DATA', () => rec.recommend({ history: [{ id: '50' }] }));
call('NaN rating in the history', 'BAD_DATA', () => rec.recommend({ history: [{ item: '50', rating: NaN }] }));
accept(
  'history of 10⁵ events (500 items × 200)',
  async () => {
    const items = (await rec.items()).slice(0, 500).map((x) => x.item);
    const events = Array.from({ length: 100_000 }, (_, i) => ({ item: items[i % 500] }));
    return { items, big: await rec.recommend({ history: events }, { k: 10 }), once: await rec.recommend({ history: items.map((item) => ({ item })) }, { k: 10 }) };
  },
  ({ items, big, once }) => {
    assert.equal(big.length, 10);
    assert.deepEqual(big, once, 'the same as the 500 distinct items once');
    assert.ok(big.every((r) => !items.includes(r.item)), 'the history is excluded');
  },
);
accept(
  'duplicate ids in a history',
  () => rec.recommend({ history: [...B.history, { item: '50' }, { item: '172' }, { item: '50' }] }, { k: 10 }),
  (recs) => assert.deepEqual(recs, baseline, 'the same as without the duplicates'),
);
call('similar of an unknown item', 'UNKNOWN_ITEM', () => rec.similar('no-such-item', { k: 10 }));
call('explain of an unknown item', 'UNKNOWN_ITEM', () => rec.explain({ history: B.history }, 'no-such-item'));

// personalize: refused before any step, so no half-fitted adaptor is left behind.
call('personalize on an unknown item', 'UNKNOWN_ITEM', () => rec.personalize([{ item: '50', rating: 5 }, { item: 'no-such-item', rating: 5 }]));
call('personalize with lr NaN', 'BAD_CONFIG', () => rec.personalize(B.history, { lr: NaN }));
call('personalize with 10⁶ steps', 'BAD_CONFIG', () => rec.personalize(B.history, { steps: 1e6 }));

// addItem: ids and text.
call('addItem with an id already in the catalog', 'BAD_DATA', () => rec.addItem({ id: '50', title: 'Star Wars, again' }), /already exists/);
call('addItem with empty text', 'BAD_DATA', () => rec.addItem({ id: 'battery-empty', text: '' }), /no content/);
call('addItem with whitespace-only title and description', 'BAD_DATA', () => rec.addItem({ id: 'battery-blank', title: '  ', description: '\n\t ' }), /no content/);
call('addItem with an empty id', 'BAD_DATA', () => rec.addItem({ id: '', title: 'Nameless' }), /non-empty id/);
call('addItem without an id', 'BAD_DATA', () => rec.addItem({ title: 'No id' }), /id/);
accept(
  'addItem with 1 MB of text',
  async () => {
    const text = 'A slow documentary about the tides and the lighthouse keepers of a northern coast. '.repeat(12_500);
    const added = await rec.addItem({ id: 'battery-1mb', title: 'Tides', description: text });
    return {
      chars: text.length,
      added,
      recs: await rec.recommend({ history: [{ item: 'battery-1mb' }] }, { k: 10 }),
      similar: await rec.similar('battery-1mb', { k: 10 }),
    };
  },
  ({ chars, added, recs, similar }) => {
    assert.ok(chars >= 1_000_000, `${chars} characters`);
    assert.deepEqual(added.used, ['text']);
    assert.ok(added.neighbors.length > 0 && Math.abs(added.neighbors.reduce((s, n) => s + n.score, 0) - 1) < 1e-4, 'neighbour weights');
    assert.equal(new Set(recs.map((r) => r.item)).size, 10, 'recommendable from');
    assert.ok(recs.every((r) => r.item !== 'battery-1mb' && Number.isFinite(r.score)));
    assert.equal(similar.length, 10, 'similar');
  },
);
accept(
  'addItem with a lone surrogate (\\uD800) as title and text',
  async () => {
    const added = await rec.addItem({ id: 'battery-surrogate', title: '\uD800', text: '\uD800' });
    const listed = (await rec.items()).find((x) => x.item === 'battery-surrogate');
    return { added, listed, similar: await rec.similar('battery-surrogate', { k: 5 }) };
  },
  ({ added, listed, similar }) => {
    assert.deepEqual(added.used, ['text']);
    assert.equal(listed?.title, '\uFFFD', 'the crate reads a lone surrogate as U+FFFD');
    assert.ok(added.neighbors.length > 0);
    assert.equal(similar.length, 5);
  },
);

// addItem: photos (ease-mm has no image content: a photo is decoded, then reported unused; a
// bad one is BAD_IMAGE before anything is placed).
/** addItem with fixture `name` as the photo (and a title, so that a decoded photo is placed). */
const withImage = (name, withText) =>
  `async () => rec.addItem({ id: 'battery-${name}', ${withText ? "title: 'A lighthouse at dusk', " : ''}image: await B.bytes('/battery/fixtures/${name}') })`;
for (const [name, label] of [
  ['empty.png', '0-byte image'],
  ['truncated.png', 'truncated PNG (half of coffee.png)'],
  ['header-only.jpg', 'JPEG cut before its scan'],
  ['huge-claim.png', 'PNG whose header claims 20000×20000'],
  ['hour.wav', 'a WAV file given as the image'],
]) {
  callCases.push({ name: label, expect: 'BAD_IMAGE', run: withImage(name, false) });
}
const placedByText = (value) => {
  assert.deepEqual(value.used, ['text']);
  assert.deepEqual(value.unused, ['image'], 'decoded, not comparable with this catalog');
  assert.ok(value.neighbors.length > 0);
};
for (const [name, label] of [
  ['truncated.jpg', 'truncated JPEG (half of rocket.jpg)'],
  ['16-bit.png', '16-bit PNG'],
  ['cmyk.jpg', 'CMYK JPEG'],
  // GIF decodes since video items (src/encode/video.rs): a photo given as one is its first frame.
  ['animated.gif', 'animated GIF (its first frame decoded)'],
]) {
  callCases.push({ name: label, expect: 'ok', run: withImage(name, true), check: placedByText });
}

// addItem: precomputed features and audio. The browser package takes audio only as a vector
// made by the catalog's embedder (`features`); ease-mm stores none, so raw audio bytes given as
// a feature are refused by name.
call('features.audio: PNG bytes (ease-mm has no audio)', 'BAD_DATA', async () =>
  rec.addItem({ id: 'battery-png-audio', features: { audio: await B.bytes('/battery/fixtures/photo.png') } }), /no 'audio'/);
call('features.audio: a one-hour WAV', 'BAD_DATA', async () =>
  rec.addItem({ id: 'battery-wav', features: { audio: await B.bytes('/battery/fixtures/hour.wav') } }), /no 'audio'/);
call('raw audio bytes as an unknown "audio" field', 'BAD_CALL', async () =>
  rec.addItem({ id: 'battery-audio-field', title: 'A bell', audio: await B.bytes('/battery/fixtures/hour.wav') }), /audio/);
call('features.tabular of the wrong dimension (27)', 'BAD_DATA', () =>
  rec.addItem({ id: 'battery-short', features: { tabular: new Float32Array(27).fill(1) } }), /28/);
call('features.tabular with a NaN', 'BAD_DATA', () =>
  rec.addItem({ id: 'battery-nan', features: { tabular: new Float32Array(28).fill(1).fill(NaN, 5, 6) } }), /finite/);
call('features.tabular all zeros', 'BAD_DATA', () =>
  rec.addItem({ id: 'battery-zero', features: { tabular: new Float32Array(28) } }), /zero/);
call('features.text given instead of text', 'BAD_DATA', () =>
  rec.addItem({ id: 'battery-text-vector', features: { text: new Float32Array(384).fill(0.1) } }), /device/);

// Saved sessions (IndexedDB records written by a throwaway bpr Recommender's save, then
// damaged in place), and a throwaway Recommender after dispose().
accept(
  'restore of the saved session (control)',
  async () => {
    const restored = await Recommender.restore('battery');
    const recs = await restored.recommend({ history: B.history });
    restored.dispose();
    return { recs, expected: B.secondRecs };
  },
  ({ recs, expected }) => assert.deepEqual(recs, expected),
);
call('restore: saved state is not JSON', 'BAD_DATA', async () => {
  await B.put('battery-garbage', { ...(await B.get('battery')), state: new TextEncoder().encode('{"format": "fusionrec-sess') });
  return Recommender.restore('battery-garbage');
}, /not a saved session/);
call('restore: state from another bundle', 'BAD_DATA', async () => {
  const saved = await B.get('battery');
  const state = JSON.parse(new TextDecoder().decode(saved.state));
  state.bundle = '0'.repeat(64);
  await B.put('battery-other', { ...saved, state: new TextEncoder().encode(JSON.stringify(state)) });
  return Recommender.restore('battery-other');
}, /another bundle/);
call('restore: an added item with an out-of-range neighbour', 'BAD_DATA', async () => {
  const saved = await B.get('battery');
  const state = JSON.parse(new TextDecoder().decode(saved.state));
  state.added = [{ id: 'forged', title: null, content: {}, neighbors: [[4_000_000_000, 1]] }];
  await B.put('battery-neighbour', { ...saved, state: new TextEncoder().encode(JSON.stringify(state)) });
  return Recommender.restore('battery-neighbour');
}, /neighbours/);
call('restore: an adaptor of the wrong length', 'BAD_DATA', async () => {
  const saved = await B.get('battery');
  const state = JSON.parse(new TextDecoder().decode(saved.state));
  state.adaptor = { theta: [1, 2, 3], strength: 1, steps: 1 };
  await B.put('battery-adaptor', { ...saved, state: new TextEncoder().encode(JSON.stringify(state)) });
  return Recommender.restore('battery-adaptor');
}, /adaptor/);
call('restore: saved bundle bytes with a bit flipped', 'BUNDLE_CHECKSUM', async () => {
  const saved = await B.get('battery');
  const weights = saved.files['weights.safetensors'].slice();
  weights[weights.length >> 1] ^= 0x10;
  await B.put('battery-bitflip', { ...saved, files: { ...saved.files, 'weights.safetensors': weights } });
  return Recommender.restore('battery-bitflip');
});
call('restore: a record without its bundle', 'BAD_DATA', async () => {
  const { state } = await B.get('battery');
  await B.put('battery-no-bundle', { state });
  return Recommender.restore('battery-no-bundle');
}, /saved session/);
call('restore: a record that is a string', 'BAD_DATA', async () => {
  await B.put('battery-string', 'not a session');
  return Recommender.restore('battery-string');
}, /saved session/);
call('restore: a key never saved', 'NOT_FOUND', () => Recommender.restore('battery-never-saved'));
call('recommend after dispose()', 'DISPOSED', () => (second.dispose(), second.recommend({ history: B.history })));
call('addItem after dispose()', 'DISPOSED', () => second.addItem({ id: 'x', title: 'After' }));
call('save after dispose()', 'DISPOSED', () => second.save('battery-after'));
call('personalize after dispose()', 'DISPOSED', () => second.personalize(B.history));

// ---------------------------------------------------------------------------------------------
// The run.

let baseline; // the good Recommender's answer before the battery (node side, for `check`)
const { server, url } = await serve();
const { context, close } = await launch(['--disable-webgpu']);
const rows = [];
const panics = [];
try {
  await context.route(`${url}/battery/**`, (route) => {
    const path = new URL(route.request().url()).pathname.split('/').slice(2);
    let body;
    if (path[0] === 'fixtures') body = FIXTURES.get(path[1]);
    else {
      const bundle = BUNDLES.get(path[0]);
      body = path[1] === 'manifest.json' ? bundle?.manifest : path[1] === 'weights.safetensors' ? bundle?.weights : undefined;
    }
    return body == null ? route.fulfill({ status: 404, body: '' }) : route.fulfill({ status: 200, body, contentType: 'application/octet-stream' });
  });
  const page = await context.newPage();
  const onConsole = (m) => {
    // Chromium logs each failed request (the 404 case); anything else logged as an error counts.
    if ((m.type() === 'error' && !/^Failed to load resource/.test(m.text())) || /panicked/.test(m.text())) panics.push(m.text());
  };
  page.on('console', onConsole);
  page.on('worker', (w) => w.on('console', onConsole));
  page.on('pageerror', (e) => panics.push(`page error: ${e.message}`));
  await page.goto(`${url}/tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true);
  const setup = await page.evaluate(
    async ({ good, encoders, history }) => {
      window.B = {
        history,
        bytes: async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer()),
        db: () =>
          new Promise((resolve, reject) => {
            const open = indexedDB.open('fusionrec', 1);
            open.onupgradeneeded = () => open.result.createObjectStore('sessions');
            open.onsuccess = () => resolve(open.result);
            open.onerror = () => reject(open.error);
          }),
        async tx(mode, f) {
          const db = await B.db();
          return new Promise((resolve, reject) => {
            const t = db.transaction('sessions', mode);
            const request = f(t.objectStore('sessions'));
            t.oncomplete = () => (db.close(), resolve(request.result));
            t.onerror = () => (db.close(), reject(t.error));
          });
        },
        get: (key) => B.tx('readonly', (s) => s.get(key)),
        put: (key, value) => B.tx('readwrite', (s) => s.put(value, key)),
      };
      window.rec = await Recommender.load(good, { encoders });
      // The text encoder, loaded once by a valid addItem, so the cases time only themselves.
      const warm = await rec.addItem({ id: 'battery-warm-up', title: 'Lighthouse keepers', description: 'A documentary.' });
      window.second = await Recommender.load(`${good}../bpr/`);
      B.secondRecs = await second.recommend({ history });
      await second.save('battery');
      return { backend: rec.backend, content: rec.content, warm: warm.used, baseline: await rec.recommend({ history }, { k: 10 }) };
    },
    { good: `/${dir}/${GOOD}/`, encoders: ENCODERS, history: HISTORY },
  );
  assert.equal(setup.backend, 'cpu', 'WebGPU unavailable: the CPU backend');
  assert.deepEqual(setup.content, ['text', 'tabular'], `${GOOD}'s catalog content`);
  assert.deepEqual(setup.warm, ['text']);
  baseline = setup.baseline;
  assert.equal(new Set(baseline.map((r) => r.item)).size, 10, 'baseline: 10 distinct items');
  console.log(`baseline (${setup.backend}): ${baseline.map((r) => `${r.item} ${r.score.toFixed(5)}`).join(', ')}`);

  const cases = [
    ...bundleCases.map((c) => ({
      ...c,
      run: `() => Recommender.load('/battery/${c.slug}/').then((r) => (r.dispose(), 'loaded'))`,
    })),
    ...callCases,
  ];
  for (const c of cases) {
    const t0 = Date.now();
    const before = panics.length;
    let out;
    let timer;
    try {
      out = await Promise.race([
        page.evaluate(async ({ run, history }) => {
          const value = (0, eval)(`(${run})`);
          let result;
          try {
            result = { ok: true, value: await value() };
          } catch (e) {
            result = { ok: false, isError: e instanceof Error, code: e?.code, message: String(e?.message ?? e) };
          }
          // The good Recommender, after the case: the reference query once more.
          const after = await rec.recommend({ history }, { k: 10 }).then(
            (recs) => ({ recs }),
            (e) => ({ error: `${e?.code}: ${e?.message}` }),
          );
          return { ...result, after };
        }, { run: c.run, history: HISTORY }),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${CASE_TIMEOUT_MS / 1000} s (a hang)`)), CASE_TIMEOUT_MS))),
      ]);
    } catch (e) {
      out = { ok: false, isError: false, code: 'HANG', message: e.message, after: { error: 'not checked' } };
    } finally {
      clearTimeout(timer);
    }
    const got = out.ok ? 'ok' : out.isError ? out.code ?? '(no code)' : `not an Error: ${out.code ?? out.message}`;
    const problems = [];
    if (got !== c.expect) problems.push(`expected ${c.expect}, got ${got}: ${out.message ?? JSON.stringify(out.value).slice(0, 300)}`);
    if (!out.ok && c.why && !c.why.test(out.message)) problems.push(`message ${JSON.stringify(out.message)} does not match ${c.why}`);
    if (out.ok && c.check && got === c.expect) {
      try {
        c.check(out.value);
      } catch (e) {
        problems.push(`wrong answer: ${e.message}`);
      }
    }
    let unharmed;
    try {
      assert.ok(out.after.recs, out.after.error);
      assert.deepEqual(out.after.recs, baseline);
      unharmed = true;
    } catch (e) {
      unharmed = false;
      problems.push(`the good Recommender changed its answer: ${e.message.split('\n')[0]}`);
    }
    if (panics.length > before) problems.push(`console errors: ${panics.slice(before).join(' | ')}`);
    rows.push({ name: c.name, expect: c.expect, got, unharmed, ms: Date.now() - t0, problems, message: out.message });
  }
} catch (e) {
  rows.push({ name: 'setup', expect: '-', got: '-', unharmed: false, problems: [e.stack ?? String(e)] });
} finally {
  await close();
  server.close();
}

// The record, then the verdicts.
const pad = (s, n) => String(s).padEnd(n);
console.log(`\n${pad('case', 62)} ${pad('expected', 16)} ${pad('got', 16)} unharmed  ms`);
for (const r of rows) console.log(`${pad(r.name, 62)} ${pad(r.expect, 16)} ${pad(r.got, 16)} ${pad(r.unharmed ? 'yes' : 'NO', 9)} ${r.ms ?? ''}`);
if (process.env.BATTERY_MARKDOWN) {
  console.log('\n| case | expected code | JS code | Recommender unharmed |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.expect} | ${r.got} | ${r.unharmed ? 'yes' : 'no'} |`);
}
if (process.env.BATTERY_VERBOSE) for (const r of rows) console.log(`${r.name}: ${r.message ?? ''}`);
const failures = rows.filter((r) => r.problems.length > 0);
for (const r of failures) console.error(`FAIL ${r.name}: ${r.problems.join('; ')}`);
const n = rows.filter((r) => r.name !== 'setup').length;
if (n < 30) failures.push({ name: `only ${n} cases` });
console.log(`\n${n} cases, ${n - failures.length} passed, ${failures.length} failed, in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failures.length ? 1 : 0);
