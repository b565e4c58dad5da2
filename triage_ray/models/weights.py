"""Load a local weights file into a registered backbone: timm/torch state dicts and torchxrayvision
checkpoints alike, loudly refusing a file that does not fit.

Why our own loader rather than timm's `pretrained_cfg_overlay={"file": ...}` alone: a site's
weights come in more than one format (timm's path cannot read torchxrayvision's pickled models),
and a wrong file must fail naming what does not fit, not with a raw size-mismatch trace.
- timm / torch: a state dict, possibly wrapped as {"model": ...} or {"state_dict": ...} and with
  DistributedDataParallel's "module." prefix (what `sweeps/pretrain.py` writes: a plain state dict).
- torchxrayvision: DenseNet-121 checkpoints are a whole pickled `xrv.models.DenseNet`; ResNet-50
  ones are a torchvision state dict with a one-channel `conv1`. Their key names equal timm's
  `densenet121` / `resnet50`, so after unpickling only the 18-pathology classifier is dropped.
  The pickle is read with torch's `weights_only` unpickler, allowing only torch.nn and
  torchxrayvision classes: a file that names any other code is refused, not executed.

The classifier (a different size: our head is abnormal + per-finding logits) is never loaded. Every
other parameter must match by name and shape, or `load_weights` raises naming what differs.
A three-channel first convolution is summed to one channel (timm's own rule for in_chans=1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DROPPED_BUFFERS = ("op_threshs",)  # torchxrayvision's per-pathology operating thresholds


def _safe_classes() -> list[type]:
    """Module classes a pickled torchxrayvision model may name (torch.nn and xrv only)."""
    import torch

    classes: list[type] = [getattr(torch.nn, n) for n in dir(torch.nn)
                           if isinstance(getattr(torch.nn, n), type)]
    try:
        import torchxrayvision.models as xrv_models
    except ImportError:  # without the package, a pickled xrv model is refused with torch's message
        return classes
    classes += [getattr(xrv_models, n) for n in dir(xrv_models)
                if isinstance(getattr(xrv_models, n), type)
                and issubclass(getattr(xrv_models, n), torch.nn.Module)]
    return classes


def read_state_dict(path: str | Path) -> tuple[dict[str, Any], str]:
    """(state dict, format name) of a weights file; format is "state_dict" or
    "torchxrayvision_model"."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights_file not found: {path}")
    with torch.serialization.safe_globals(_safe_classes()):
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - re-raised with the file and the reason
            raise ValueError(f"{path}: not a weights file this loader accepts (a torch state "
                             f"dict or a torchxrayvision checkpoint): {exc}") from exc
    fmt = "state_dict"
    if isinstance(obj, torch.nn.Module):
        obj, fmt = obj.state_dict(), "torchxrayvision_model"
    for key in ("model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{path}: holds {type(obj).__name__}, not a state dict of tensors")
    state = {k.removeprefix("module."): v for k, v in obj.items() if k not in DROPPED_BUFFERS}
    return state, fmt


def _classifier_keys(model) -> set[str]:
    head = model.pretrained_cfg.get("classifier", "") if hasattr(model, "pretrained_cfg") else ""
    names = [head] if isinstance(head, str) else list(head)
    return {f"{n}.{p}" for n in names if n for p in ("weight", "bias")}


def _adapt_first_conv(model, state: dict[str, Any]) -> None:
    """Sum a three-channel first convolution to the model's one channel, in place."""
    first = getattr(model, "pretrained_cfg", {}).get("first_conv")
    key = f"{first}.weight" if first else None
    own = model.state_dict()
    if key in state and key in own and state[key].shape[1] == 3 and own[key].shape[1] == 1:
        state[key] = state[key].sum(dim=1, keepdim=True)


def load_weights(model, path: str | Path) -> dict[str, Any]:
    """Load `path` into `model` (all but its classifier); returns what was loaded, for the log
    and the model card. Raises ValueError naming missing, unexpected or mis-shaped parameters."""
    state, fmt = read_state_dict(path)
    _adapt_first_conv(model, state)
    head = _classifier_keys(model)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k not in head}
    missing = sorted(k for k in own if k not in state and k not in head)
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                    for k in state if k in own and state[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        def few(xs: list[str]) -> str:
            return ", ".join(xs[:4]) + (f" (+{len(xs) - 4} more)" if len(xs) > 4 else "")

        problems = [f"{len(missing)} missing ({few(missing)})" if missing else "",
                    f"{len(unexpected)} unexpected ({few(unexpected)})" if unexpected else "",
                    f"{len(shapes)} of another shape ({few(shapes)})" if shapes else ""]
        raise ValueError(f"{path} does not fit {type(model).__name__}: "
                         + "; ".join(p for p in problems if p)
                         + ". Is it the weights of another backbone?")
    model.load_state_dict(state, strict=False)
    return {"file": str(path), "format": fmt, "tensors": len(state),
            "classifier_dropped": sorted(head)}
