// Compiled by `tsc --noEmit -p tests/types` in CI: the package's types as a web developer uses
// them. `@ts-expect-error` lines must fail to type-check, so they prove what the types forbid.
import { Recommender, type ErrorCode, type FusionrecError, type Recommendation } from 'fusionrec';

export async function demo(signal: AbortSignal): Promise<Recommendation[]> {
  const rec = await Recommender.load('/models/ml-100k/', {
    device: 'auto',
    signal,
    fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
    onProgress: ({ loaded, total }) => console.log(loaded / total),
    encoders: { text: '/encoders/minilm/', cache: true },
  });
  const history = [{ item: '50', rating: 5 }];
  const recs = await rec.recommend({ history }, { k: 10, exclude: 'seen', explain: true, filter: { category: 'Horror' } });
  const because: string | undefined = recs[0]?.explanation?.influences[0]?.item;
  const titles = (await rec.items()).map((x) => x.title ?? x.item);
  console.log(because, titles.length);
  // @ts-expect-error: a filter is by items or by category
  await rec.recommend(history, { filter: { genre: 'Horror' } });
  const tuned = await rec.personalize(history, { steps: 10 });
  console.log(tuned.lossBefore - tuned.lossAfter);
  await rec.addItem({ id: 'new', text: 'A film', features: { audio: new Float32Array(4) } });
  const bytes = { manifest: new Uint8Array(0), files: { 'weights.safetensors': new ArrayBuffer(0) } };
  await Recommender.load(bytes);
  rec.dispose();
  // @ts-expect-error: made only by load/restore
  new Recommender();
  // @ts-expect-error: results are camelCase
  console.log(tuned.loss_before);
  return recs;
}

export function describe(e: unknown): string {
  const code: ErrorCode | undefined = (e as FusionrecError).code;
  switch (code) {
    case 'DISPOSED':
    case 'ABORTED':
      return 'stopped';
    case 'BUNDLE_CHECKSUM':
      return 'corrupt download';
    // @ts-expect-error: not a code
    case 'NO_SUCH_CODE':
      return 'impossible';
    default:
      return String(code);
  }
}
