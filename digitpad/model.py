"""The digit CNN: a small VGG-style network sized for sub-millisecond CPU inference.

Torch lives here (and in train/export); serving never imports this module.
The architecture is fully described by :class:`ModelConfig` (``digitpad.recipe``, torch-free),
which is stored in every checkpoint and ONNX file so any loader can rebuild the network from the
artifact alone.
"""

from __future__ import annotations

import torch
from torch import nn

from .recipe import ModelConfig


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DigitNet(nn.Module):
    """Three stages of two 3x3 convs; each stage but the last halves the resolution.

    (N, 1, 28, 28) -> stage1 (N, c1, 14, 14) -> stage2 (N, c2, 7, 7)
    -> stage3 (N, c3, 7, 7) -> global average pool (N, c3) -> linear (N, classes) logits.
    Global pooling (not a big flatten+dense) keeps parameters small and makes the
    network less sensitive to exactly where in the 28x28 box the digit sits.
    """

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels
        self.features = nn.Sequential(
            _conv_bn(1, c1),
            _conv_bn(c1, c1),
            nn.MaxPool2d(2),  # (N, c1, 14, 14)
            _conv_bn(c1, c2),
            _conv_bn(c2, c2),
            nn.MaxPool2d(2),  # (N, c2, 7, 7)
            _conv_bn(c2, c3),
            _conv_bn(c3, c3),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (N, c3)
            nn.Dropout(config.dropout),
            nn.Linear(c3, config.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) -> (N, classes)
        return self.head(self.features(x))


class Ensemble(nn.Module):
    """Several DigitNets read the same image; their log-probabilities are averaged.

    (N, 1, 28, 28) -> each member (N, C) -> mean of log-softmax (N, C). The output works as
    logits: its softmax is the normalised geometric mean of the members' probabilities.
    Members trained from different seeds make different mistakes, so the average makes fewer.
    """

    def __init__(self, members: list[DigitNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logp = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members])  # (M, N, C)
        return logp.mean(0)


def ensemble_config(members: list[dict]) -> dict:
    """The architecture entry stored in an ensemble's artifact."""
    return {"name": "digitnet-ensemble", "members": members, "channels": members[0]["channels"],
            "num_classes": members[0]["num_classes"]}


def build_model(config: ModelConfig | dict | None = None) -> nn.Module:
    """A DigitNet from its config, or an Ensemble from a config with ``members``."""
    if config is None:
        config = ModelConfig()
    elif isinstance(config, dict):
        if "members" in config:
            return Ensemble([build_model(c) for c in config["members"]])
        config = ModelConfig.from_dict(config)
    return DigitNet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bake_temperature(model: nn.Module, t: float) -> nn.Module:
    """Divide the network's logits by ``t`` inside the network (temperature scaling,
    ``digitpad.calibration``): the last layer is linear, so its weight and bias are divided.
    The exported softmax is then calibrated wherever the file runs (server, browser)."""
    if isinstance(model, Ensemble):
        raise ValueError("an ensemble's output is a mean of log-softmaxes: bake a temperature into each member")
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.div_(t)
        last.bias.div_(t)
    return model
