"""The one training loop, shared by ``digitpad train`` and ``digitpad finetune`` (torch).

    fitted = fit(model, cfg, (x, y), (xv, yv), gen=gen, out_dir=out, schedule=one_cycle, architecture=arch)

Each epoch: shuffle, augment every batch (``digitpad.augment``), SGD + Nesterov, step the
schedule; then measure the validation set, append a row to ``metrics.jsonl``, keep the best
weights in ``best.pt`` and save a resumable ``checkpoint.pt``. What the two callers do
differently is passed in: the learning-rate schedule, whether an EMA of the weights competes
for "best" (training), and whether BatchNorm and dropout are frozen (fine-tuning). Also here:
the seeded train/validation split of MNIST's training set and the tensor helpers around it.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from .augment import augment, to_input
from .model import build_model
from .recipe import FinetuneConfig, TrainConfig

log = logging.getLogger(__name__)

Schedule = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


# ---------------------------------------------------------------- data and tensors


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float in [0, 1]."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


def tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 28, 28) uint8 and (N,) labels -> (N, 1, 28, 28) float in [0, 1] and (N,) int64."""
    return image_tensor(images), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """(N, 1, 28, 28) in [0, 1] -> (N, classes) logits, in eval mode."""
    model.eval()
    outs = [model(to_input(images[i: i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(outs)


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Validation accuracy and cross-entropy loss of ``model``."""
    logits = predict_logits(model, images)
    loss = F.cross_entropy(logits, labels).item()
    return (logits.argmax(1) == labels).float().mean().item(), loss


def seed_torch(cfg: TrainConfig | FinetuneConfig) -> torch.Generator:
    """Apply ``cfg.threads`` and ``cfg.seed`` to torch; returns the generator for shuffling and augmentation."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    return torch.Generator().manual_seed(cfg.seed)


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------- schedules


def one_cycle(opt: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Training's schedule: warm up to the optimizer's lr, then anneal. One-cycle needs >= 2
    warm-up steps and >= 1 annealing step: tiny cheap-mode runs (a few batches) get a longer
    warm-up share and a schedule of at least 4 steps."""
    total_steps = max(4, total_steps)
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.defaults["lr"], total_steps=total_steps,
                                               pct_start=max(0.2, 2.0 / total_steps))


def cosine(opt: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Fine-tuning's schedule: from the optimizer's (small) lr down to 0, no warm-up."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))


# ---------------------------------------------------------------- the loop


@dataclass
class Fitted:
    """What a finished ``fit`` leaves besides ``best.pt``."""

    best: dict  # {"val_acc", "val_loss", "epoch", "weights": "raw" | "ema"}
    history: list[dict]  # the rows of metrics.jsonl
    elapsed: float  # seconds spent training (validation excluded), over all invocations


def fit(
    model: torch.nn.Module,
    cfg: TrainConfig | FinetuneConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    gen: torch.Generator,
    out_dir: Path,
    schedule: Schedule,
    architecture: dict,
    ema_decay: float | None = None,
    frozen: bool = False,
    extra_val: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    mix: tuple[torch.Tensor, list[int]] | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_epoch: int | None = None,
    label: str = "epoch",
) -> Fitted | None:
    """Train ``model`` in place on ``train`` (images (N, 1, 28, 28) in [0, 1], labels (N,)).

    The weights kept in ``out_dir/best.pt`` ({"model": state dict, "config": ``architecture``}) are
    chosen on ``val``: the raw weights or, with ``ema_decay``, their EMA, whichever scores
    higher (ties: lower loss). ``extra_val`` sets (name -> images, labels) are measured and
    logged each epoch but choose nothing. ``mix`` = (groups (N,), images per group): each epoch
    draws that many images of each group (``mixed_epoch``) instead of one pass over ``train``.
    ``frozen`` trains in eval mode (BatchNorm statistics and dropout off). ``stop_after_epoch`` ends this invocation early, after saving the
    checkpoint, and returns None: a time-boxed run, continued later with ``resume=True``.
    """
    from tqdm import tqdm

    x, y = train
    xv, yv = val
    epoch_len = sum(mix[1]) if mix is not None else len(x)
    steps_per_epoch = math.ceil(epoch_len / cfg.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=True, weight_decay=cfg.weight_decay)
    sched = schedule(opt, cfg.epochs * steps_per_epoch)
    ema = AveragedModel(model, avg_fn=_ema_fn(ema_decay), use_buffers=True) if ema_decay is not None else None

    start_epoch, best, history, elapsed = 0, {"val_acc": -1.0}, [], 0.0
    ckpt_path, metrics_path = out_dir / "checkpoint.pt", out_dir / "metrics.jsonl"
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        if ck["config"] != cfg.to_dict():
            log.warning("resuming with a config that differs from the checkpoint's")
        model.load_state_dict(ck["model"])
        if ema is not None:
            ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        start_epoch, best, history, elapsed = ck["epoch"], ck["best"], ck["history"], ck["elapsed"]
        log.info("resumed from %s at epoch %d", ckpt_path, start_epoch)
    elif metrics_path.exists():
        metrics_path.unlink()

    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
               disable=not progress, unit="batch", dynamic_ncols=True)
    for epoch in range(start_epoch, cfg.epochs):
        bar.set_description(f"{label} {epoch + 1}/{cfg.epochs}")
        model.train(not frozen)
        t0 = time.perf_counter()
        perm = mixed_epoch(*mix, gen) if mix is not None else torch.randperm(len(x), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size: (i + 1) * cfg.batch_size]
            xb = to_input(augment(x[idx], cfg, gen))  # (B, 1, 28, 28)
            yb = y[idx]
            logits = model(xb)  # (B, classes)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            bar.update(1)
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", val=f"{best['val_acc']:.4f}", refresh=False)
        train_s = time.perf_counter() - t0
        elapsed += train_s
        candidates = [("raw", *accuracy(model, xv, yv), model)]
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_acc": candidates[0][1], "val_loss": candidates[0][2]}
        if ema is not None:
            candidates.insert(0, ("ema", *accuracy(ema.module, xv, yv), ema.module))
            row.update(val_acc_ema=candidates[0][1], val_loss_ema=candidates[0][2])
        for name, (xe, ye) in (extra_val or {}).items():
            row[f"val_acc_{name}"], row[f"val_loss_{name}"] = accuracy(model, xe, ye)
        row.update(lr=sched.get_last_lr()[0], epoch_seconds=train_s, elapsed_seconds=elapsed,
                   images_per_second=seen / train_s)
        history.append(row)
        with open(metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        for name, acc, vloss, m in candidates:
            if (acc, -vloss) > (best["val_acc"], -best.get("val_loss", math.inf)):
                best = {"val_acc": acc, "val_loss": vloss, "epoch": epoch + 1, "weights": name}
                save_best(m, out_dir, architecture)
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=f"{row['val_acc']:.4f}")
        if progress:
            bar.write(f"{label} {epoch + 1}: loss {row['train_loss']:.4f} val {row['val_acc']:.4%}"
                      + (f" ema {row['val_acc_ema']:.4%}" if ema is not None else "")
                      + f" ({train_s:.0f}s, {row['images_per_second']:.0f} img/s)")
        torch.save({
            "model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(),
            "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "best": best, "history": history,
            "elapsed": elapsed, "config": cfg.to_dict(),
        }, ckpt_path)
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < cfg.epochs:
            bar.close()
            return None
    bar.close()
    return Fitted(best=best, history=history, elapsed=elapsed)


def mixed_epoch(groups: torch.Tensor, counts: list[int], gen: torch.Generator) -> torch.Tensor:
    """One epoch's indices: ``counts[g]`` images of each group ``g`` (groups (N,) int), each
    group walked in a fresh random order and repeated when it is smaller than its count; all
    shuffled together. -> (sum(counts),) int64."""
    parts = []
    for g, n in enumerate(counts):
        members = (groups == g).nonzero().flatten()
        if n == 0 or len(members) == 0:
            continue
        rounds = math.ceil(n / len(members))
        parts.append(torch.cat([members[torch.randperm(len(members), generator=gen)] for _ in range(rounds)])[:n])
    idx = torch.cat(parts)
    return idx[torch.randperm(len(idx), generator=gen)]


def load_best(out_dir: Path) -> torch.nn.Module:
    """The weights ``fit`` chose, rebuilt from ``best.pt`` alone, in eval mode."""
    ck = torch.load(out_dir / "best.pt", weights_only=True)
    model = build_model(ck["config"])
    model.load_state_dict(ck["model"])
    return model.eval()


def _ema_fn(decay: float):
    """EMA whose decay ramps up from 0 ((1 + n) / (10 + n)), so short runs are not
    dominated by the random initial weights."""

    def avg(averaged: torch.Tensor, current: torch.Tensor, num_averaged) -> torch.Tensor:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        return averaged * d + current * (1.0 - d)

    return avg


def save_best(model: torch.nn.Module, out_dir: Path, architecture: dict, **extra) -> None:
    """``out_dir/best.pt``: {"model": state dict, "config": architecture, **extra}."""
    torch.save({"model": _plain_state(model), "config": architecture, **extra}, out_dir / "best.pt")


def _plain_state(m: torch.nn.Module) -> dict:
    """State dict with contiguous tensors (channels-last weights saved in the default layout)."""
    return {k: v.contiguous() for k, v in m.state_dict().items()}
