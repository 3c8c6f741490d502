"""A member of the paper's family from a few numbers: what [network] of a sweep's spec says.

    [Conv-(SBN)-ReLU-(Dropout)-(Max-pool)] x M - [Affine-(BN)-ReLU-(Dropout)] x N - Affine-Softmax

The keys and what they mean (a key left out takes the preset's value; the preset is
"shallow" unless [network] names another):

    preset          "shallow", "deep", "vgg" or "linear": where the other keys start from
    conv_blocks     M
    conv_filters    the first block's filters (each next block has conv_growth times as
                    many), or a list, one per block
    conv_growth     see conv_filters (default 2)
    conv_kernel     odd kernel size, or a list, one per block
    conv_batchnorm  spatial batchnorm after each conv (or a list)
    conv_dropout    drop probability after each conv block (or a list)
    conv_pool       "each", "last" or "none" (2x2 max-pool after which blocks), or a list of bools
    fc_blocks       N
    fc_units        units of every FC block, or a list, one per block
    fc_batchnorm    batchnorm in each FC block (or a list)
    fc_dropout      drop probability after each FC block (or a list)

A list gives one value per block and may be longer than the blocks: a search over
conv_blocks = {grid = [2, 3, 4]} with conv_filters = [64, 128, 512, 512] uses its first M.
"""

# the paper's two networks and the accuracy network (fercnn.models.presets), said with these keys
PRESETS = {
    "shallow": {"conv_blocks": 2, "conv_filters": [32, 64], "conv_growth": 2, "conv_kernel": 3, "conv_batchnorm": True,
                "conv_dropout": 0.2, "conv_pool": "last", "fc_blocks": 1, "fc_units": 512, "fc_batchnorm": False,
                "fc_dropout": 0.5},
    "deep": {"conv_blocks": 4, "conv_filters": [64, 128, 512, 512], "conv_growth": 2, "conv_kernel": [3, 5, 3, 3],
             "conv_batchnorm": True, "conv_dropout": 0.2, "conv_pool": "each", "fc_blocks": 2, "fc_units": [256, 512],
             "fc_batchnorm": True, "fc_dropout": 0.5},
    "vgg": {"conv_blocks": 8, "conv_filters": [64, 64, 128, 128, 256, 256, 512, 512], "conv_growth": 2,
            "conv_kernel": 3, "conv_batchnorm": True, "conv_dropout": [0.0, 0.2] * 4, "conv_pool": [False, True] * 4,
            "fc_blocks": 2, "fc_units": 512, "fc_batchnorm": True, "fc_dropout": 0.5},
    "linear": {"conv_blocks": 0, "conv_filters": 32, "conv_growth": 2, "conv_kernel": 3, "conv_batchnorm": False,
               "conv_dropout": 0.0, "conv_pool": "none", "fc_blocks": 0, "fc_units": 512, "fc_batchnorm": False,
               "fc_dropout": 0.0},
}
POOL_WORDS = ("each", "last", "none")


def _per_block(key, value, n):
    """``value`` for each of n blocks: a scalar repeated, or the first n entries of a list."""
    if isinstance(value, (list, tuple)):
        if len(value) < n:
            raise ValueError(f"network.{key}: {n} blocks need {n} values, the list has {len(value)}: {list(value)}")
        return list(value[:n])
    return [value] * n


def blocks(values):
    """ConvNet's conv and fc block lists from [network]'s values (one trial's: nothing swept)."""
    p = dict(PRESETS[values.get("preset", "shallow")])
    p.update({k: v for k, v in values.items() if k != "preset"})
    M, N = p["conv_blocks"], p["fc_blocks"]
    if isinstance(p["conv_filters"], (list, tuple)):
        filters = _per_block("conv_filters", p["conv_filters"], M)
    else:
        filters = [max(1, int(round(p["conv_filters"] * p["conv_growth"] ** i))) for i in range(M)]
    pool = p["conv_pool"]
    if pool == "each":
        pool = [True] * M
    elif pool == "last":
        pool = [False] * (M - 1) + [True] if M else []
    elif pool == "none":
        pool = [False] * M
    pool = _per_block("conv_pool", pool, M)
    conv = [{"filters": f, "kernel": k, "batchnorm": bn, "dropout": d, "pool": pl}
            for f, k, bn, d, pl in zip(filters, _per_block("conv_kernel", p["conv_kernel"], M),
                                       _per_block("conv_batchnorm", p["conv_batchnorm"], M),
                                       _per_block("conv_dropout", p["conv_dropout"], M), pool)]
    fc = [{"units": u, "batchnorm": bn, "dropout": d}
          for u, bn, d in zip(_per_block("fc_units", p["fc_units"], N),
                              _per_block("fc_batchnorm", p["fc_batchnorm"], N),
                              _per_block("fc_dropout", p["fc_dropout"], N))]
    return {"conv": conv, "fc": fc}


def _same(items, text):
    """One word for a setting of every block: its value when all agree, else the list."""
    vals = [text(v) for v in items]
    return vals[0] if len(set(vals)) == 1 else ",".join(vals)


def describe(spec):
    """A network spec (ConvNet's spec, or blocks()) in a few words:
    'conv 32-64p 3x3 BN drop 0.2 | fc 512 drop 0.5'; 'p' marks a block followed by a 2x2 pool."""
    parts = []
    conv, fc = spec["conv"], spec["fc"]
    if conv:
        words = ["conv " + "-".join(f"{b['filters']}{'p' if b['pool'] else ''}" for b in conv),
                 _same([b["kernel"] for b in conv], lambda k: f"{k}x{k}")]
        bn = _same([b["batchnorm"] for b in conv], lambda v: "BN" if v else "-")
        if bn != "-":
            words.append(bn)
        drop = _same([b["dropout"] for b in conv], lambda v: f"{v:g}")
        if drop != "0":
            words.append(f"drop {drop}")
        parts.append(" ".join(words))
    if fc:
        words = ["fc " + "-".join(str(b["units"]) for b in fc)]
        bn = _same([b["batchnorm"] for b in fc], lambda v: "BN" if v else "-")
        if bn != "-":
            words.append(bn)
        drop = _same([b["dropout"] for b in fc], lambda v: f"{v:g}")
        if drop != "0":
            words.append(f"drop {drop}")
        parts.append(" ".join(words))
    return " | ".join(parts) if parts else "linear (softmax on pixels)"
