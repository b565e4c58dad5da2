"""Pretrain a backbone on a generated source corpus (Ray Train) and write timm-loadable weights.

    python sweeps/pretrain.py                        # resnet10t, 24k studies, ~8 min on 2 cores
    python sweeps/pretrain.py --smoke                # the smoke study's pretraining: 400 studies, 1 epoch
    python sweeps/pretrain.py --set backbone='"resnet18"' epochs=6
    python sweeps/pretrain.py --method simclr        # self-supervised on the generated 30k pile

Cached by its parameters under data/pretrained/<backbone>-<hash>/ (weights.pth, card.md,
card.json). Fine-tune from it: sweeps/xray.py --set pretrained=true 'weights_file="<weights.pth>"'.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout or a job dir

from triage_ray.common.preflight import check_dependencies  # noqa: E402

check_dependencies()  # a clear message, not a ModuleNotFoundError, under the wrong Python

from triage_ray.common.ray_session import add_address_argument, start_ray  # noqa: E402
from triage_ray.xray.pretrain import (  # noqa: E402
    CARD_MD,
    METHODS,
    PretrainConfig,
    cached,
    pretrain,
    smoke_overrides,
)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="supervised: the pretraining `sweeps/xray.py --smoke` uses (400 studies, "
                        "1 epoch; it then finds it cached); simclr: 800 studies, 1 epoch")
    p.add_argument("--method", choices=METHODS, default="supervised",
                   help="supervised (per-finding labels of a source corpus) or simclr "
                        "(self-supervised on the unlabeled pile; no label read)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON", help="PretrainConfig overrides")
    add_address_argument(p)
    args = p.parse_args(argv)
    overrides = smoke_overrides(args.method) if args.smoke else {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    cfg = (PretrainConfig.simclr(**overrides) if args.method == "simclr"
           else PretrainConfig.from_dict(overrides))
    if not cached(cfg):  # a cache hit needs no Ray (starting it costs seconds)
        start_ray(args.address, max(os.cpu_count() or 1, 4), {"RAY_DATA_DISABLE_PROGRESS_BARS": "1"})
    weights = pretrain(cfg)
    print(f"\nGENERATED DATA: the pretraining corpus is synthesised.\nweights: {weights}\n"
          f"card: {weights.parent / CARD_MD}")
    return weights


if __name__ == "__main__":
    main()
