"""On-the-fly augmentation of training batches, and the model input they become (torch).

    x = to_input(augment(batch, cfg, gen))   # (B, 1, 28, 28) in [0, 1] -> normalised model input

Whole batches at once (no per-image Python): filled loops, stroke thickening/thinning, a random
affine (rotation, zoom, aspect, shear, shift) and smooth elastic warps, all drawn from ``gen`` so
runs are seeded.
The strengths are ``digitpad.recipe.Augmentation`` fields, part of every run's recipe.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .preprocess import MNIST_MEAN, MNIST_STD
from .recipe import Augmentation


def augment(x: torch.Tensor, cfg: Augmentation, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1], white ink on black -> augmented batch of the same shape."""
    b = x.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.rand(*(shape or (b,)), generator=gen) * (hi - lo) + lo

    # A heavy pen's filled loops: a grey-level closing (a 3x3 or 5x5 max, then a min of the same
    # size) fills the holes and gaps narrower than the window but keeps the stroke's weight, as
    # preprocessing does when it thins a marker's strokes (fit28 step 8): an 8 whose loops ran
    # full, a 0 with a slit, a 9 whose loop is a blot. (No draws when off: older recipes replay.)
    if cfg.closing_p > 0:
        r = u(0, 1)
        closed = [-F.max_pool2d(-F.max_pool2d(x, k, 1, k // 2), k, 1, k // 2) for k in (3, 5)]
        x = torch.where((r < cfg.closing_p / 2).view(b, 1, 1, 1), closed[0], x)
        x = torch.where(((r >= cfg.closing_p / 2) & (r < cfg.closing_p)).view(b, 1, 1, 1), closed[1], x)

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
