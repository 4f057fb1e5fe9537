#!/usr/bin/env python3
"""Encoder throughput, fusionrec (burn Flex, pure-Rust CPU) against PyTorch, side by side.

How to run (from the repository root, after `cargo build --release --bin fusionrec` and
`fusionrec fetch minilm`, `fetch efficientnet-lite0`, `fetch movielens-100k`,
`fetch sample-photos`):

  pip install torch numpy safetensors tokenizers pillow
  python3 bench/encoders.py [--threads 2 1] [--repeats 5] [--copies 16]

What it measures
----------------
  * text: all-MiniLM-L6-v2 on the 1,682 MovieLens-100K items, each as training composes it
    ("Toy Story (1995). Animation, Children's, Comedy."), written one per line. fusionrec:
    `fusionrec encode --text FILE --batch B`; torch: the same BERT written here from the same
    `model.safetensors` (F.linear, F.layer_norm, F.scaled_dot_product_attention with the
    padding mask, exact-erf GELU, mean pooling over real tokens, L2 norm), tokenized by the
    same tokenizer.json (HF `tokenizers`, truncation at 256, no padding), texts sorted by
    token length and cut into the same batches of B.
  * image: EfficientNet-Lite0 pooled features (1280-d) of COPIES copies of each sample photo,
    centre-cut to 256 × 256 PNGs first (so that the resize to a short side of 256 is the
    identity in both pipelines and both networks see the same pixels). fusionrec:
    `fusionrec encode --images DIR --batch B`; torch: Pillow decode + crop + (x-127)/128, then
    the network written here from the same `.pth` with batch norm folded into the
    convolutions (as fusionrec does) and TF SAME padding.
  * Both timings cover tokenizing/decoding + the network, not loading the weights: fusionrec
    reports its own encode time (printed by `encode`), torch's is timed in this process.
  * The threads: torch.set_num_threads(T) and RAYON_NUM_THREADS=T for fusionrec, f32 both.
  * Runs alternate (fusionrec, torch, fusionrec, torch, …); the table gives the median of
    `--repeats` runs and each side's best. Before timing, the outputs are compared: every
    row's cosine between fusionrec's and torch's vectors must be ≥ 0.999, or the script
    exits 1 (it would not be the same computation).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- inputs
def catalog_texts(item_file):
    """ML-100K items as `fusionrec::encode::features::item_text` composes them."""
    texts = []
    with open(item_file, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {name.split(":")[0]: i for i, name in enumerate(header)}
        for line in f:
            row = line.rstrip("\n").split("\t")
            title, year = row[col["movie_title"]].strip(), row[col["release_year"]].strip()
            cats = row[col["class"]].split()
            parts = []
            if title:
                parts.append(f"{title} ({year})." if year and f"({year})" not in title
                             else f"{title}.")
            if cats:
                parts.append(", ".join(cats) + ".")
            texts.append(" ".join(parts).replace("\n", " "))
    return texts


def square_photos(photo_dir, out_dir, copies):
    """Each photo centre-cut to 256 × 256 PNG, `copies` times under distinct names."""
    names = sorted(n for n in os.listdir(photo_dir)
                   if n.lower().endswith((".png", ".jpg", ".jpeg")))
    for n in names:
        img = Image.open(os.path.join(photo_dir, n)).convert("RGB")
        w, h = img.size
        s = min(w, h)
        img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        img = img.resize((256, 256), Image.BILINEAR)
        first = os.path.join(out_dir, f"{os.path.splitext(n)[0]}_000.png")
        img.save(first)
        for c in range(1, copies):
            shutil.copy(first, os.path.join(out_dir, f"{os.path.splitext(n)[0]}_{c:03}.png"))
    return sorted(os.path.join(out_dir, n) for n in os.listdir(out_dir))


# ---------------------------------------------------------------- torch MiniLM
class TorchMiniLm:
    def __init__(self, model_dir):
        sd = load_file(os.path.join(model_dir, "model.safetensors"))
        if "bert.embeddings.word_embeddings.weight" in sd:
            sd = {k[5:]: v for k, v in sd.items() if k.startswith("bert.")}
        self.sd = sd
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(256)

    def embed_batch(self, rows):
        sd, b, t = self.sd, len(rows), max(len(r) for r in rows)
        ids = torch.zeros(b, t, dtype=torch.long)
        mask = torch.zeros(b, t)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1.0
        e = "embeddings."
        x = sd[e + "word_embeddings.weight"][ids] + sd[e + "position_embeddings.weight"][:t] \
            + sd[e + "token_type_embeddings.weight"][0]
        x = F.layer_norm(x, (384,), sd[e + "LayerNorm.weight"], sd[e + "LayerNorm.bias"], 1e-12)
        bias = ((mask - 1.0) * 1e9).view(b, 1, 1, t)
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            lin = lambda y, n: F.linear(y, sd[p + n + ".weight"], sd[p + n + ".bias"])
            heads = lambda y: y.view(b, t, 12, 32).transpose(1, 2)
            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(b, t, 384)
            n = p + "attention.output.LayerNorm"
            x = F.layer_norm(x + lin(ctx, "attention.output.dense"), (384,),
                             sd[n + ".weight"], sd[n + ".bias"], 1e-12)
            hidden = F.gelu(lin(x, "intermediate.dense"))
            n = p + "output.LayerNorm"
            x = F.layer_norm(x + lin(hidden, "output.dense"), (384,),
                             sd[n + ".weight"], sd[n + ".bias"], 1e-12)
        m = mask.unsqueeze(2)
        mean = (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        return F.normalize(mean, dim=1, eps=1e-12)

    def encode(self, texts, batch):
        rows = [e.ids for e in self.tok.encode_batch(texts)]
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        out = torch.empty(len(rows), 384)
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            out[chunk] = self.embed_batch([rows[i] for i in chunk])
        return out.numpy()


# ---------------------------------------------------------------- torch EfficientNet-Lite0
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


class TorchEffNet:
    def __init__(self, pth):
        sd = torch.load(pth, map_location="cpu", weights_only=True)
        self.sd = {k: v.float().contiguous() for k, v in sd.items() if v.is_floating_point()}
        fold = lambda conv, bn, stride, groups: self._fold(conv, bn, stride, groups)
        self.stem = fold("_conv_stem", "_bn0", 2, 1)
        self.blocks, index, c_in = [], 0, 32
        for repeats, _k, first_stride, _e, c_out in STAGES:
            for r in range(repeats):
                pre, stride = f"_blocks.{index}", first_stride if r == 0 else 1
                expand = fold(f"{pre}._expand_conv", f"{pre}._bn0", 1, 1) \
                    if f"{pre}._expand_conv.weight" in self.sd else None
                mid = self.sd[f"{pre}._depthwise_conv.weight"].shape[0]
                dw = fold(f"{pre}._depthwise_conv", f"{pre}._bn1", stride, mid)
                proj = fold(f"{pre}._project_conv", f"{pre}._bn2", 1, 1)
                self.blocks.append((expand, dw, proj, stride == 1 and c_in == c_out))
                c_in, index = c_out, index + 1
        self.head = fold("_conv_head", "_bn1", 1, 1)

    def _fold(self, conv, bn, stride, groups):
        sd, w = self.sd, self.sd[conv + ".weight"]
        scale = sd[bn + ".weight"].double() / (sd[bn + ".running_var"].double() + 1e-3).sqrt()
        weight = (w.double() * scale.view(-1, 1, 1, 1)).float().contiguous()
        bias = (sd[bn + ".bias"].double() - sd[bn + ".running_mean"].double() * scale).float()
        return weight, bias, stride, groups

    @staticmethod
    def _conv(x, conv):
        weight, bias, stride, groups = conv
        k, (h, w) = weight.shape[2], x.shape[2:]
        pads = []
        for n in (w, h):  # F.pad order: last dim first
            total = max((-(-n // stride) - 1) * stride + k - n, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, weight, bias, stride, 0, 1, groups)

    def forward(self, x):
        c = self._conv
        x = F.relu6(c(x, self.stem))
        for expand, dw, proj, residual in self.blocks:
            y = F.relu6(c(x, expand)) if expand is not None else x
            y = c(F.relu6(c(y, dw)), proj)
            x = x + y if residual else y
        x = F.relu6(c(x, self.head))
        return x.mean((2, 3))

    @staticmethod
    def preprocess(path):
        img = Image.open(path).convert("RGB")
        w, h = img.size
        s = min(w, h)
        nw, nh = (256, (h * 256 + s // 2) // s) if w <= h else ((w * 256 + s // 2) // s, 256)
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.BILINEAR)
        x0, y0 = (nw - 224) // 2, (nh - 224) // 2
        img = img.crop((x0, y0, x0 + 224, y0 + 224))
        return (torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) - 127.0) \
            / 128.0

    def encode(self, paths, batch):
        out = []
        for s in range(0, len(paths), batch):
            x = torch.stack([self.preprocess(p) for p in paths[s:s + batch]])
            out.append(self.forward(x))
        return torch.cat(out).numpy()


# ---------------------------------------------------------------- running
def run_fusionrec(binary, flag, src, out, batch, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    p = subprocess.run([binary, "encode", flag, src, "--out", out, "--batch", str(batch)],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"fusionrec encode failed:\n{p.stdout}{p.stderr}")
    seconds = float(re.search(r" in ([0-9.]+) s ", p.stdout).group(1))
    return seconds, np.load(out)


def run_torch(fn, threads):
    torch.set_num_threads(threads)
    with torch.inference_mode():
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out


def agree(a, b, what):
    if a.shape != b.shape:
        sys.exit(f"{what}: shapes differ, fusionrec {a.shape} vs torch {b.shape}")
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    print(f"{what}: {a.shape[0]} rows, min cosine fusionrec↔torch {cos.min():.6f}, "
          f"max |Δ| {np.abs(a - b).max():.2e}", flush=True)
    if cos.min() < 0.999:
        sys.exit(f"{what}: outputs disagree (min cosine {cos.min():.6f} < 0.999)")
    return cos.min()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/fusionrec"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--copies", type=int, default=16, help="copies of each sample photo")
    ap.add_argument("--text-batch", type=int, default=64)
    ap.add_argument("--image-batch", type=int, default=16)
    ap.add_argument("--only", choices=["text", "image"])
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="fusionrec-enc-bench-")
    texts = catalog_texts(os.path.join(args.data, "ml-100k", "ml-100k.item"))
    text_file = os.path.join(tmp, "titles.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    photo_dir = os.path.join(tmp, "photos")
    os.makedirs(photo_dir)
    photos = square_photos(os.path.join(args.data, "photos"), photo_dir, args.copies)

    tasks = []
    if args.only in (None, "text"):
        minilm = TorchMiniLm(os.path.join(args.data, "minilm"))
        tasks.append(("text (MiniLM-L6)", len(texts), "--text", text_file, args.text_batch,
                      lambda: minilm.encode(texts, args.text_batch)))
    if args.only in (None, "image"):
        effnet = TorchEffNet(os.path.join(args.data, "efficientnet-lite0",
                                          "efficientnet-lite0-57934424.pth"))
        tasks.append(("image (EfficientNet-Lite0)", len(photos), "--images", photo_dir,
                      args.image_batch, lambda: effnet.encode(photos, args.image_batch)))

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()}",
          flush=True)
    rows = []
    for name, n, flag, src, batch, torch_fn in tasks:
        out = os.path.join(tmp, "out.npy")
        for threads in args.threads:
            ours, theirs = [], []
            for r in range(args.repeats):
                s, a = run_fusionrec(args.bin, flag, src, out, batch, threads)
                ours.append(s)
                t, b = run_torch(torch_fn, threads)
                theirs.append(t)
                if r == 0:
                    cos = agree(a, b, f"{name}, {threads} thread(s)")
                print(f"  {name} T={threads} run {r}: fusionrec {n / s:.1f}/s, "
                      f"torch {n / t:.1f}/s", flush=True)
            med_o, med_t = statistics.median(ours), statistics.median(theirs)
            rows.append((name, n, batch, threads, n / med_o, n / min(ours), n / med_t,
                         n / min(theirs), med_t / med_o, cos))
    print(f"\nload after: {os.getloadavg()}\n")
    print("| encoder | items | batch | threads | fusionrec items/s (median, best) "
          "| torch items/s (median, best) | fusionrec / torch | min cosine |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, batch, th, mo, bo, mt, bt, ratio, cos in rows:
        print(f"| {name} | {n} | {batch} | {th} | {mo:.1f} ({bo:.1f}) | {mt:.1f} ({bt:.1f}) "
              f"| {ratio:.2f}× | {cos:.5f} |")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
