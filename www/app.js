// The demo: search and rate movies; recommendations update on every rating, each with the rated
// movie that weighs most and bars for which content (text, genres/year) links it to your ratings.
// Personalize fine-tunes a small adaptor on your ratings (autodiff on WebGPU or the CPU); Add a
// movie encodes its text (and photo) on the device. Everything runs in this page (the fusionrec
// package's Web Worker); the ratings live in memory only.
import { Recommender } from '/js/index.js';

const params = new URLSearchParams(location.search);
const bundle = params.get('bundle') ?? '/models/ml100k/ease-mm/';
const $ = (selector) => document.querySelector(selector);
const ratings = new Map(); // item id → rating (1–5)
let titles = [];

function item(text, extra = []) {
  const li = document.createElement('li');
  li.append(text, ...extra);
  return li;
}

function button(label, onClick) {
  const b = Object.assign(document.createElement('button'), { textContent: label, type: 'button' });
  b.addEventListener('click', onClick);
  return b;
}

function showError(e) {
  $('#error').textContent = e ? `${e.code ?? 'ERROR'}: ${e.message}` : '';
}

async function main() {
  const rec = await Recommender.load(bundle, {
    device: params.get('device') ?? 'auto',
    encoders: { text: '/data/minilm/', image: '/data/efficientnet-lite0/efficientnet-lite0-57934424.pth' },
    onProgress: ({ loaded, total }) => {
      $('#progress').value = total ? loaded / total : 0;
    },
  });
  $('#progress').value = 1;
  $('#backend').textContent = `model loaded · running on ${rec.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}`;
  document.body.dataset.backend = rec.backend;
  // Titles for search: the loaded bundle's catalog, no second download.
  titles = (await rec.items()).map(({ item, title }) => ({ id: item, title: title ?? item }));

  const refresh = async () => {
    const rated = [...ratings].map(([id, r]) => {
      const t = titles.find((x) => x.id === id)?.title ?? id;
      return item(`${t} — ${'★'.repeat(r)}`, [button('remove', () => { ratings.delete(id); refresh(); })]);
    });
    $('#rated').replaceChildren(...(rated.length ? rated : [item('Nothing rated yet.')]));
    if (!ratings.size) {
      $('#recs').replaceChildren(item('Rate a movie to get recommendations.'));
      return;
    }
    try {
      // Ratings of 3 or more count as liking the movie (the model was trained on ratings ≥ 4).
      const history = [...ratings].filter(([, r]) => r >= 3).map(([id, r]) => ({ item: id, rating: r }));
      // Each recommendation comes with its explanation: the rated movie that contributes most
      // to its score, and the modalities linking it to the history.
      const recs = history.length ? await rec.recommend({ history }, { k: 10, exclude: 'seen', explain: true }) : [];
      showError(null);
      const why = recs.map((r) => r.explanation);
      $('#recs').replaceChildren(
        ...recs.map((r, i) => {
          const score = Object.assign(document.createElement('span'), { className: 'score', textContent: r.score.toFixed(3) });
          const top = why[i].influences[0];
          const because = Object.assign(document.createElement('div'), {
            className: 'because',
            textContent: top && top.contribution > 0 ? `because you liked ${top.title ?? top.item}` : '',
          });
          const bars = Object.assign(document.createElement('span'), { className: 'bars' });
          bars.title = why[i].modalities.map((m) => `${m.modality} ${(100 * m.share).toFixed(0)}%`).join(', ');
          bars.append(
            ...why[i].modalities.map((m) =>
              Object.assign(document.createElement('span'), { className: m.modality, style: `width:${100 * m.share}%` }),
            ),
          );
          return item(r.title ?? r.item, [score, bars, because]);
        }),
      );
      document.body.dataset.recommendations = String(recs.length);
    } catch (e) {
      showError(e);
    }
  };

  const search = $('#search');
  search.disabled = false;
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase();
    const hits = q.length < 2 ? [] : titles.filter((t) => t.title.toLowerCase().includes(q)).slice(0, 8);
    $('#results').replaceChildren(
      ...hits.map((t) =>
        item(t.title, [1, 2, 3, 4, 5].map((r) => button(`${r}★`, () => { ratings.set(t.id, r); refresh(); }))),
      ),
    );
  });
  const tune = $('#personalize');
  tune.disabled = false;
  tune.addEventListener('click', async () => {
    const events = [...ratings].map(([id, r]) => ({ item: id, rating: r }));
    tune.disabled = true;
    try {
      const t = await rec.personalize(events, {
        steps: 20,
        onProgress: ({ step, steps }) => {
          $('#tune-progress').value = step / steps;
        },
      });
      $('#tune-status').textContent = `${t.steps} steps on ${t.pairs} pairs, loss ${t.lossBefore.toFixed(3)} → ${t.lossAfter.toFixed(3)}`;
      document.body.dataset.personalized = 'true';
      showError(null);
      await refresh();
    } catch (e) {
      showError(e);
    } finally {
      tune.disabled = false;
    }
  });

  const add = $('#add');
  const submit = add.querySelector('button');
  submit.disabled = false;
  let added = 0;
  add.addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = $('#add-title').value.trim();
    const id = `new-${++added}`;
    submit.disabled = true;
    $('#add-status').textContent = 'encoding on this device…';
    try {
      const result = await rec.addItem({
        id,
        title,
        description: $('#add-description').value.trim() || undefined,
        image: $('#add-image').files[0],
      });
      titles.push({ id, title });
      const near = result.neighbors.slice(0, 3).map((n) => n.title ?? n.item).join(', ');
      const unused = result.unused.length ? ` (${result.unused.join(', ')} not comparable with this catalog)` : '';
      $('#add-status').textContent = `added “${title}”, placed by ${result.used.join(' + ')}${unused} near ${near}`;
      document.body.dataset.added = id;
      showError(null);
      await refresh();
    } catch (e) {
      $('#add-status').textContent = '';
      showError(e);
    } finally {
      submit.disabled = false;
    }
  });
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  showError(e);
  $('#backend').textContent = 'the model could not be loaded';
});
