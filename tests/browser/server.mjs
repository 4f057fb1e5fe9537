// A tiny static server for the browser tests and the demo: serves the repository's pkg/, js/,
// www/, tests/browser/, models/ and the fetched encoders and photos under data/ (or the `folders` given: URL prefix → directory), and
// logs every request (method, URL, body) so that tests can check what left the page.
// `/truncated/<path>` serves a file cut to half its size.
// Run alone (`npm start`) it serves the demo page at http://127.0.0.1:8080/www/.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
// The encoders and sample photos are served too, for addItem and the encoder checks.
const SERVED = ['pkg/', 'js/', 'www/', 'tests/browser/', 'models/', 'data/minilm/', 'data/efficientnet-lite0/', 'data/photos/'];
const REPOSITORY = Object.fromEntries(SERVED.map((p) => [p, join(root, p)]));
const types = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

export function serve(port = 0, { folders = REPOSITORY } = {}) {
  const log = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const url = new URL(req.url, 'http://localhost');
    log.push({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() });
    let path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const truncated = path.startsWith('truncated/');
    if (truncated) path = path.slice('truncated/'.length);
    if (path === '' || path === 'www') path = 'www/index.html';
    if (path.endsWith('/')) path += 'index.html';
    path = normalize(path);
    const prefix = Object.keys(folders).find((p) => path.startsWith(p));
    if (prefix === undefined) {
      res.writeHead(404).end();
      return;
    }
    try {
      let bytes = await readFile(join(folders[prefix], path.slice(prefix.length)));
      if (truncated && !path.endsWith('manifest.json')) bytes = bytes.subarray(0, bytes.length >> 1);
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
      res.end(bytes);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((done) =>
    server.listen(port, '127.0.0.1', () => done({ server, log, url: `http://127.0.0.1:${server.address().port}` })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.env.PORT ?? 8080));
  console.log(`serving ${root} at ${url}/www/`);
}
