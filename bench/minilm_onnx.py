"""MiniLM for onnxruntime-web, the peer of `node bench/browser_encoder.mjs --ort DIR`.

Exports all-MiniLM-L6-v2 from `data/minilm/model.safetensors` (the weights the crate loads) to
ONNX — opset 17, dynamic batch and sequence axes, token ids + attention mask in, mean-pooled
L2-normalised sentence vectors out: the network of bench/encoders.py's TorchMiniLm — and writes
the token ids of the benchmark's texts (first 64 ML-100K titles and one short text), tokenised
with the model's own tokenizer.json (no padding, truncation at 256) as the crate does.

    python -m venv /tmp/onnx-venv && /tmp/onnx-venv/bin/pip install torch safetensors tokenizers onnx
    /tmp/onnx-venv/bin/python bench/minilm_onnx.py --data data --out /tmp/minilm-onnx

(torch's TorchScript exporter, `dynamo=False`; `onnx` is used only to check the file.)
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer

from browser_encoder_texts import SHORT_TEXT, titles


ap = argparse.ArgumentParser()
ap.add_argument("--data", default="data")
ap.add_argument("--out", required=True)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
src, out = os.path.join(args.data, "minilm"), os.path.join(args.out, "minilm.onnx")
sd = load_file(os.path.join(src, "model.safetensors"))
if "bert.embeddings.word_embeddings.weight" in sd:
    sd = {k[5:]: v for k, v in sd.items() if k.startswith("bert.")}

class MiniLm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v, requires_grad=False)
                                         for k, v in sd.items() if k != "embeddings.position_ids" and not k.startswith("pooler")})
    def w(self, n):
        return self.p[n.replace(".", "__")]
    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape
        mask = attention_mask.to(torch.float32)
        e = "embeddings."
        x = F.embedding(input_ids, self.w(e + "word_embeddings.weight")) \
            + self.w(e + "position_embeddings.weight")[:t].unsqueeze(0) \
            + self.w(e + "token_type_embeddings.weight")[0]
        x = F.layer_norm(x, (384,), self.w(e + "LayerNorm.weight"), self.w(e + "LayerNorm.bias"), 1e-12)
        bias = ((mask - 1.0) * 1e9).view(b, 1, 1, t)
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            lin = lambda y, n: F.linear(y, self.w(p + n + ".weight"), self.w(p + n + ".bias"))
            heads = lambda y: y.view(b, t, 12, 32).transpose(1, 2)
            q = heads(lin(x, "attention.self.query")) * (1.0 / 32 ** 0.5)
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            ctx = torch.softmax(q @ k.transpose(2, 3) + bias, dim=-1) @ v
            ctx = ctx.transpose(1, 2).reshape(b, t, 384)
            n = p + "attention.output.LayerNorm"
            x = F.layer_norm(x + lin(ctx, "attention.output.dense"), (384,), self.w(n + ".weight"), self.w(n + ".bias"), 1e-12)
            hidden = F.gelu(lin(x, "intermediate.dense"))
            n = p + "output.LayerNorm"
            x = F.layer_norm(x + lin(hidden, "output.dense"), (384,), self.w(n + ".weight"), self.w(n + ".bias"), 1e-12)
        m = mask.unsqueeze(2)
        mean = (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        return F.normalize(mean, dim=1, eps=1e-12)

model = MiniLm().eval()
ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]])
mask = (ids != 0).long()
with torch.no_grad():
    ref = model(ids, mask)
torch.onnx.export(model, (ids, mask), out, input_names=["input_ids", "attention_mask"],
                  output_names=["embedding"], opset_version=17, dynamo=False,
                  dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                "embedding": {0: "batch"}})
import onnx
m = onnx.load(out)
onnx.checker.check_model(m)
print("exported", out, os.path.getsize(out), "bytes; opset", m.opset_import[0].version)

tok = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
tok.no_padding()
tok.enable_truncation(256)
texts = titles(os.path.join(args.data, "ml-100k", "ml-100k.item"))
tokens = {"texts": texts, "ids": [e.ids for e in tok.encode_batch(texts)],
          "short": SHORT_TEXT, "shortIds": tok.encode(SHORT_TEXT).ids}
with open(os.path.join(args.out, "tokens.json"), "w") as f:
    json.dump(tokens, f)
print("wrote", os.path.join(args.out, "tokens.json"), len(texts), "texts")
