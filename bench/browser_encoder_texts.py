"""The texts of bench/browser_encoder.mjs (kept equal to its `titles` and SHORT_TEXT)."""

SHORT_TEXT = "A quiet sci-fi drama about memory and loss."


def titles(item_file, n=64):
    """The first `n` ML-100K movie titles (RecBole's ml-100k.item), as they are written there."""
    with open(item_file, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = [h.split(":")[0] for h in header].index("movie_title")
        return [line.rstrip("\n").split("\t")[col].strip() for _, line in zip(range(n), f)]
