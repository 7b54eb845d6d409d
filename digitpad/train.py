"""Train the digit CNN on MNIST and write a self-describing artifact.

    digitpad train --data-dir ../shared/data/mnist --out runs/full          # full recipe
    digitpad train --data-dir ../shared/data/mnist --epochs 1 --limit 2048  # cheap mode (tests)

Recipe: on-the-fly augmentation on whole batches (affine: rotation, scale, aspect, shear,
shift; smooth elastic warps; stroke thickening/thinning), SGD + Nesterov with a one-cycle
schedule, label smoothing, an EMA of the weights, channels-last tensors. The checkpoint is
chosen on a validation split carved from the training set; the MNIST test set is evaluated
once, at the end. Runs are seeded and resumable (``--resume``) from ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from . import data as mnist
from .model import ModelConfig, build_model, count_parameters
from .preprocess import MNIST_MEAN, MNIST_STD

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Every knob of a training run; stored in the artifact as its recipe."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.1  # peak of the one-cycle schedule
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    ema_decay: float = 0.999
    val_size: int = 5000
    limit: int | None = None  # cap on training images (cheap mode)
    seed: int = 0  # weights init, shuffling, augmentation
    split_seed: int = 0  # which 5,000 training images form the validation split (shared by ensemble members)
    threads: int = 0  # torch intra-op threads; 0 = torch default
    # augmentation
    rotate_deg: float = 10.0
    scale: float = 0.10  # zoom in [1-s, 1+s]
    aspect: float = 0.10  # independent x/y stretch
    shear: float = 0.15  # radians
    shift_px: float = 2.5
    elastic_px: float = 1.2  # amplitude of smooth random warps
    elastic_p: float = 0.3
    thickness_p: float = 0.3  # share of images thickened or thinned
    model: ModelConfig = field(default_factory=ModelConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


# ---------------------------------------------------------------- augmentation (torch)


def augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1], white ink on black -> augmented batch of the same shape."""
    b = x.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(*(shape or (b,)), generator=gen) * (hi - lo) + lo

    # Stroke thickness: blend towards a 3x3 dilation (thicker pen) or erosion (thinner pen).
    if cfg.thickness_p > 0:
        r = u(0, 1)
        amount = u(0.3, 1.0).view(b, 1, 1, 1)
        thick = (r < cfg.thickness_p / 2).view(b, 1, 1, 1)
        thin = ((r >= cfg.thickness_p / 2) & (r < cfg.thickness_p)).view(b, 1, 1, 1)
        dil = F.max_pool2d(x, 3, 1, 1)
        ero = -F.max_pool2d(-x, 3, 1, 1)
        x = torch.where(thick, x + amount * (dil - x), x)
        # Erosion at full strength erases MNIST's 2-3 px strokes: cap it at 60%.
        x = torch.where(thin, x + 0.6 * amount * (ero - x), x)

    # Affine: theta maps output coords to input coords in [-1, 1] units.
    ang = u(-1, 1) * math.radians(cfg.rotate_deg)
    zoom = u(1 - cfg.scale, 1 + cfg.scale)
    sx = zoom * u(1 - cfg.aspect, 1 + cfg.aspect)
    sy = zoom * u(1 - cfg.aspect, 1 + cfg.aspect)
    sh = u(-cfg.shear, cfg.shear)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = (cos + sin * sh) / sx
    theta[:, 0, 1] = (-sin + cos * sh) / sx
    theta[:, 1, 0] = sin / sy
    theta[:, 1, 1] = cos / sy
    theta[:, :, 2] = u(-1, 1, b, 2) * (cfg.shift_px / 14.0)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)

    if cfg.elastic_p > 0 and cfg.elastic_px > 0:
        # Smooth random displacement: 4x4 noise upsampled to 28x28, in pixels -> [-1, 1] units.
        noise = torch.randn(b, 2, 4, 4, generator=gen) * cfg.elastic_px
        noise = noise * (u(0, 1) < cfg.elastic_p).view(b, 1, 1, 1)
        disp = F.interpolate(noise, size=(28, 28), mode="bicubic", align_corners=True)
        grid = grid + disp.permute(0, 2, 3, 1) * (2.0 / 28.0)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def to_input(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] images (B, 1, 28, 28) -> normalised, channels-last model input."""
    return ((x - MNIST_MEAN) / MNIST_STD).contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- data split


def split_train_val(images: np.ndarray, labels: np.ndarray, cfg: TrainConfig):
    """Seeded split of the 60k training set into train and validation (never the test set)."""
    perm = np.random.RandomState(cfg.split_seed).permutation(len(images))
    n_val = cfg.val_size
    if cfg.limit:
        n_val = min(n_val, max(256, cfg.limit // 4))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if cfg.limit:
        train_idx = train_idx[: cfg.limit]
    return (images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx])


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    outs = [model(to_input(images[i: i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(outs)


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    logits = predict_logits(model, images)
    loss = F.cross_entropy(logits, labels).item()
    return (logits.argmax(1) == labels).float().mean().item(), loss


# ---------------------------------------------------------------- the loop


def seed_torch(cfg: TrainConfig) -> torch.Generator:
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


def train(
    cfg: TrainConfig,
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    resume: bool = False,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    extra_info: dict | None = None,
    init_state: dict | None = None,
    progress: bool = True,
    export: bool = True,
    version: str | None = None,
    stop_after_epoch: int | None = None,
) -> dict | None:
    """Run training; returns the artifact metadata. Writes into ``out_dir``:

    checkpoint.pt (last epoch, for --resume), best.pt (chosen on validation),
    metrics.jsonl (one line per epoch), model.onnx + MODEL_CARD.md (unless export=False).
    ``extra`` adds (images (N, 28, 28) uint8, labels) to the training set (e.g. pen-drawn digits
    of the pendigits dev writers, ``pendigits.training_set``), described in the artifact by
    ``extra_info``; ``init_state`` starts from existing weights. ``stop_after_epoch`` ends this invocation
    early (after saving the checkpoint) and returns None: a time-boxed run, continued later
    with ``resume=True``.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_torch(cfg)

    tr_img, tr_lab = mnist.load_split("train", data_dir)
    (x_np, y_np), (xv_np, yv_np) = split_train_val(tr_img, tr_lab, cfg)
    if extra is not None:
        x_np = np.concatenate([x_np, extra[0]])
        y_np = np.concatenate([y_np, extra[1]])
    x, y = _tensor(x_np), torch.from_numpy(y_np.astype(np.int64))
    xv, yv = _tensor(xv_np), torch.from_numpy(yv_np.astype(np.int64))

    model = build_model(cfg.model).to(memory_format=torch.channels_last)
    if init_state is not None:
        model.load_state_dict(init_state)
    ema = AveragedModel(model, avg_fn=_ema_fn(cfg.ema_decay), use_buffers=True)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=True, weight_decay=cfg.weight_decay)
    # One-cycle needs >= 2 warm-up steps and >= 1 annealing step: tiny cheap-mode runs
    # (a few batches) get a longer warm-up share and a schedule of at least 4 steps.
    total_steps = max(4, cfg.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=total_steps, pct_start=max(0.2, 2.0 / total_steps))

    start_epoch, best, history, elapsed = 0, {"val_acc": -1.0}, [], 0.0
    ckpt_path = out / "checkpoint.pt"
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        if ck["config"] != cfg.to_dict():
            log.warning("resuming with a config that differs from the checkpoint's")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        start_epoch, best, history, elapsed = ck["epoch"], ck["best"], ck["history"], ck["elapsed"]
        log.info("resumed from %s at epoch %d", ckpt_path, start_epoch)
    elif (out / "metrics.jsonl").exists():
        (out / "metrics.jsonl").unlink()

    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
               disable=not progress, unit="batch", dynamic_ncols=True)
    for epoch in range(start_epoch, cfg.epochs):
        bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size: (i + 1) * cfg.batch_size]
            xb = to_input(augment(x[idx], cfg, gen))  # (B, 1, 28, 28)
            yb = y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(model)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
            bar.update(1)
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", val=f"{best['val_acc']:.4f}", refresh=False)
        train_s = time.perf_counter() - t0
        elapsed += train_s
        val_acc, val_loss = accuracy(model, xv, yv)
        ema_acc, ema_loss = accuracy(ema.module, xv, yv)
        row = {
            "epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
            "val_acc": val_acc, "val_loss": val_loss, "val_acc_ema": ema_acc, "val_loss_ema": ema_loss,
            "lr": sched.get_last_lr()[0], "epoch_seconds": train_s, "elapsed_seconds": elapsed,
            "images_per_second": seen / train_s,
        }
        history.append(row)
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        # Pick the better of raw and EMA weights by validation accuracy (ties -> lower loss).
        for name, acc, vloss, m in (("ema", ema_acc, ema_loss, ema.module), ("raw", val_acc, val_loss, model)):
            if (acc, -vloss) > (best["val_acc"], -best.get("val_loss", math.inf)):
                best = {"val_acc": acc, "val_loss": vloss, "epoch": epoch + 1, "weights": name}
                torch.save({"model": _plain_state(m), "config": cfg.model.to_dict()}, out / "best.pt")
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=f"{val_acc:.4f}", ema=f"{ema_acc:.4f}")
        bar.write(f"epoch {epoch + 1}: loss {row['train_loss']:.4f} val {val_acc:.4%} "
                  f"ema {ema_acc:.4%} ({train_s:.0f}s, {row['images_per_second']:.0f} img/s)") if progress else None
        torch.save({
            "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
            "sched": sched.state_dict(), "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "epoch": epoch + 1, "best": best, "history": history, "elapsed": elapsed,
            "config": cfg.to_dict(),
        }, ckpt_path)
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < cfg.epochs:
            bar.close()
            return None
    bar.close()

    # Final model: the validation-chosen weights. The test set is evaluated exactly once, here.
    final = build_model(cfg.model)
    final.load_state_dict(torch.load(out / "best.pt", weights_only=True)["model"])
    final.eval()
    te_img, te_lab = mnist.load_split("test", data_dir)
    xt, yt = _tensor(te_img), torch.from_numpy(te_lab.astype(np.int64))
    pred = predict_logits(final, xt).argmax(1)
    per_class = [float((pred[yt == c] == c).float().mean()) for c in range(10)]
    test_acc = float((pred == yt).float().mean())

    meta = {
        "version": version or time.strftime("digitnet-%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": cfg.model.to_dict(),
        "parameters": count_parameters(final),
        "recipe": cfg.to_dict(),
        "data": {
            "checksums_sha256": mnist.checksums(),
            "train_images": int(len(x)),
            "extra_images": int(len(extra[0])) if extra is not None else 0,
            **({"extra": extra_info} if extra_info else {}),
            "val_images": int(len(xv)),
        },
        "metrics": {
            "val_accuracy": best["val_acc"],
            "best_epoch": best["epoch"],
            "weights": best["weights"],
            "test_accuracy": test_acc,
            "test_per_class_accuracy": per_class,
            "train_seconds": round(elapsed, 1),
            "epochs": cfg.epochs,
        },
        "machine": machine_info(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    if export:
        from .export import export_onnx, write_model_card
        from .quantize import quantize_run

        meta = export_onnx(final, meta, out / "model.onnx", parity_images=te_img[:1000])
        qmeta = quantize_run(out / "model.onnx", x_np, te_img, te_lab,
                             calibration_source="the run's training images")
        write_model_card(meta, out / "MODEL_CARD.md", history=history, quantized=qmeta)
    return meta


def _ema_fn(decay: float):
    """EMA whose decay ramps up from 0 ((1 + n) / (10 + n)), so short runs are not
    dominated by the random initial weights."""

    def avg(averaged: torch.Tensor, current: torch.Tensor, num_averaged) -> torch.Tensor:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        return averaged * d + current * (1.0 - d)

    return avg


def _plain_state(m: torch.nn.Module) -> dict:
    """State dict with contiguous tensors (channels-last weights saved in the default layout)."""
    return {k: v.contiguous() for k, v in m.state_dict().items()}


def fast_config(**overrides) -> TrainConfig:
    """The quick recipe used by bench/train_speed.py: fewer epochs, same everything else."""
    return replace(TrainConfig(epochs=8), **overrides)


def ensemble(
    run_dirs: list[str | Path],
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    version: str | None = None,
) -> dict:
    """Combine finished training runs into one ensemble artifact (one ONNX graph).

    Every run must share the validation split (``split_seed``), so the ensemble's validation
    accuracy is measured on images none of its members trained on. The test set is evaluated
    once, at the end, as for a single run. Writes ``model.onnx`` and ``MODEL_CARD.md``.
    """
    from .export import export_onnx, write_model_card
    from .model import ensemble_config
    from .quantize import quantize_run

    runs = [Path(d) for d in run_dirs]
    metas = [json.loads((r / "meta.json").read_text()) for r in runs]
    split_seeds = {m["recipe"].get("split_seed", 0) for m in metas}
    if len(split_seeds) != 1:
        raise ValueError(f"ensemble members use different validation splits: {split_seeds}")
    arch = ensemble_config([m["architecture"] for m in metas])
    model = build_model(arch)
    for member, run in zip(model.members, runs):
        member.load_state_dict(torch.load(run / "best.pt", weights_only=True)["model"])
    model.eval()

    cfg = replace(TrainConfig(), split_seed=split_seeds.pop(), limit=metas[0]["recipe"].get("limit"))
    (train_np, _), (xv_np, yv_np) = split_train_val(*mnist.load_split("train", data_dir), cfg)
    val_acc, _ = accuracy(model, _tensor(xv_np), torch.from_numpy(yv_np.astype(np.int64)))
    te_img, te_lab = mnist.load_split("test", data_dir)
    yt = torch.from_numpy(te_lab.astype(np.int64))
    pred = predict_logits(model, _tensor(te_img)).argmax(1)
    meta = {
        "version": version or time.strftime("digitnet-ensemble-%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": arch,
        "parameters": count_parameters(model),
        "recipe": {"combine": "mean of the members' log-probabilities", "members": [m["recipe"] for m in metas]},
        "data": {**metas[0]["data"], "val_images": int(len(xv_np))},
        "metrics": {
            "val_accuracy": val_acc,
            "test_accuracy": float((pred == yt).float().mean()),
            "test_per_class_accuracy": [float((pred[yt == c] == c).float().mean()) for c in range(10)],
            "train_seconds": round(sum(m["metrics"]["train_seconds"] for m in metas), 1),
            "members": [{"version": m["version"], **{k: m["metrics"][k] for k in (
                "val_accuracy", "test_accuracy", "best_epoch", "epochs", "weights", "train_seconds")}} for m in metas],
        },
        "machine": metas[0]["machine"],
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    meta = export_onnx(model, meta, out / "model.onnx", parity_images=te_img[:1000])
    qmeta = quantize_run(out / "model.onnx", train_np, te_img, te_lab,
                         calibration_source="MNIST training images (the members' split)")
    histories = {}
    for m, run in zip(metas, runs):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        histories[m["version"]] = rows
        (out / f"metrics-{m['version']}.jsonl").write_text((run / "metrics.jsonl").read_text())
    write_model_card(meta, out / "MODEL_CARD.md", histories=histories, quantized=qmeta)
    return meta
