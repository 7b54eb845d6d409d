"""Every knob of a training or fine-tuning run, with its help text: the one home of the recipe.

    ModelConfig     the architecture                  (digitpad.model)
    Augmentation    the augmentation strengths        (digitpad.augment), shared by both runs
    TrainConfig     a training run: digitpad train    (digitpad.train)
    FinetuneConfig  a fine-tuning run: digitpad finetune  (digitpad.finetune)

Each field carries its help (``field(metadata={"help": ...})``); ``digitpad.cli.training`` makes
one flag per field and shows the field's default, so a command accepts exactly the knobs its run
uses. A run stores its config in the model file as its recipe (``to_dict``: flat, the keys that
``ensemble`` and the notebook read). No torch here: building the CLI's parser must stay cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .charset import NUM_CLASSES


def knob(default: Any, help: str) -> Any:
    """A config field with its help text (one CLI flag: ``--field-name``)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters (stored in artifacts; not a flag: a run trains the default)."""

    name: str = "digitnet"
    channels: tuple[int, int, int] = (32, 64, 128)
    dropout: float = 0.25
    num_classes: int = NUM_CLASSES  # charset.CLASSES: ten digits, ten number symbols, other

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", cls.channels))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Augmentation:
    """On-the-fly augmentation of each batch (``digitpad.augment``).

    Training and fine-tuning both augment every batch they see, so both configs inherit these
    fields: they shape the new model, so they belong to its recipe and are flags of both commands.
    """

    rotate_deg: float = knob(10.0, "max rotation in degrees")
    scale: float = knob(0.10, "zoom in [1-s, 1+s]")
    aspect: float = knob(0.10, "independent x/y stretch in [1-a, 1+a]")
    shear: float = knob(0.15, "max shear in radians")
    shift_px: float = knob(2.5, "max shift in pixels")
    elastic_px: float = knob(1.2, "amplitude of the smooth random warps in pixels")
    elastic_p: float = knob(0.3, "share of images warped")
    thickness_p: float = knob(0.3, "share of images thickened or thinned")
    closing_p: float = knob(0.0, "share of images whose loops and gaps are filled as a heavy pen fills them "
                                 "(a 3x3 or 5x5 closing)")

    def to_dict(self) -> dict:
        """The recipe as stored: the run's own knobs first, then these."""
        d = asdict(self)
        augmentation = {f.name: d.pop(f.name) for f in fields(Augmentation)}
        return {**d, **augmentation}


@dataclass
class TrainConfig(Augmentation):
    """Every knob of a training run; stored in the artifact as its recipe."""

    epochs: int = knob(20, "epochs")
    batch_size: int = knob(128, "batch size")
    lr: float = knob(0.1, "peak learning rate of the one-cycle schedule")
    momentum: float = knob(0.9, "SGD momentum (Nesterov)")
    weight_decay: float = knob(5e-4, "weight decay")
    label_smoothing: float = knob(0.1, "label smoothing")
    ema_decay: float = knob(0.999, "decay of the exponential moving average of the weights")
    val_size: int = knob(5000, "validation images carved from the MNIST training set")
    limit: int | None = knob(None, "train on at most N MNIST images (cheap mode; default: all)")
    # With --pendigits and --unipen (digitpad.trainset): what each epoch is made of.
    handwriting_share: float = knob(0.35, "share of each epoch drawn from the handwriting corpus's digits "
                                          "and number symbols (the rest: MNIST and negatives)")
    negative_share: float = knob(0.15, "share of each epoch drawn from the corpus's `other` images "
                                       "(letters, symbols, doodles)")
    reader_share: float = knob(0.15, "share of each epoch drawn from the number reader's own candidates of "
                                     "composed numbers (whole characters, and halves and merges as `other`)")
    reader_numbers: int = knob(1500, "composed numbers of the train writers whose candidates are trained on "
                                     "(digitpad.readercrops; 0: none)")
    epoch_images: int | None = knob(None, "images per epoch; unset: MNIST's plus the corpus's")
    handwriting_limit: int | None = knob(None, "at most N records per handwriting source (cheap mode)")
    seed: int = knob(0, "random seed for weights, shuffling and augmentation")
    split_seed: int = knob(0, "seed of the validation split (ensemble members must share it)")
    threads: int = knob(0, "torch threads, 0 = torch's default (all cores)")
    model: ModelConfig = field(default_factory=ModelConfig)  # no flag: see ModelConfig

    def to_dict(self) -> dict:
        d = super().to_dict()
        del d["model"]
        return {**d, "model": self.model.to_dict()}

    @classmethod
    def from_recipe(cls, recipe: dict) -> TrainConfig:
        """The config of a stored training recipe (a model file's ``recipe``); unknown keys ignored."""
        names = {f.name for f in fields(cls)} - {"model"}
        cfg = cls(**{k: v for k, v in recipe.items() if k in names})
        return replace(cfg, model=ModelConfig.from_dict(recipe["model"])) if "model" in recipe else cfg


@dataclass
class FinetuneConfig(Augmentation):
    """Every knob of a fine-tuning run (stored in the new model as its recipe).

    No ``split_seed``/``val_size``: the MNIST validation split is the base model's own (read from
    its recipe), so that the epoch is chosen on images the base model never trained on.
    """

    epochs: int = knob(3, "epochs (the one with the best MNIST validation accuracy is kept)")
    limit: int | None = knob(20_000, "MNIST training images mixed in")
    batch_size: int = knob(128, "batch size")
    # Small on purpose: with BatchNorm frozen the weights are no longer scale-normalized, and
    # 0.01 already diverges within a few steps on the shipped model.
    lr: float = knob(0.001, "peak learning rate of the cosine schedule")
    momentum: float = knob(0.9, "SGD momentum (Nesterov)")
    weight_decay: float = knob(5e-4, "weight decay")
    label_smoothing: float = knob(0.1, "label smoothing")
    holdout: float = knob(0.2, "share of the feedback held out, to measure on")
    feedback_share: float = knob(0.25, "share of each epoch's images that are (repeated) feedback")
    max_repeat: int = knob(20, "cap on how often one feedback image is seen per epoch")
    seed: int = knob(0, "random seed for the feedback hold-out, shuffling and augmentation")
    threads: int = knob(0, "torch threads, 0 = torch's default (all cores)")


def fast_config(**overrides: Any) -> TrainConfig:
    """The quick recipe used by bench/train_speed.py: fewer epochs, same everything else."""
    return replace(TrainConfig(epochs=8), **overrides)


def training_recipe(recipe: dict | None) -> dict:
    """The training recipe at the root of a model's lineage: a fine-tune's ``base_recipe``
    chain is followed down, an ensemble gives its first member's (they share the split)."""
    recipe = recipe or {}
    while "base_recipe" in recipe:
        recipe = recipe["base_recipe"] or {}
    if recipe.get("members"):
        recipe = recipe["members"][0]
    return recipe


@dataclass
class SequenceConfig:
    """Every knob of a sequence-model run (digitpad train-sequence; stored in the model as its recipe)."""

    strings: int = knob(30_000, "strings composed of the train writers' characters to train on (digits, and a "
                                "`separators` share with a number's separators)")
    epochs: int = knob(14, "epochs")
    batch_size: int = knob(64, "strings per batch (of similar widths)")
    lr: float = knob(2e-3, "peak learning rate of the one-cycle schedule (Adam)")
    val_strings: int = knob(600, "digit strings of the val writers read after each epoch (printed; they choose nothing)")
    letters: float = knob(0.15, "share of the strings with the writer's letters (alone or among digits), read as `?`")
    touching: int = knob(2, "weight of the touching layout among spaced (1) and tight (1)")
    mnist: int = knob(8_000, "digit strings composed of MNIST training digits (other hands: some 250 people, on paper), "
                         "besides `strings`")
    separators: float = knob(0.33, "share of the strings written with a number's separators (prices, phone numbers, dates, "
                                  "times, percentages, decimals: compose's templates), read as themselves; 0: digits only")
    distort: float = knob(0.7, "share of the training strings drawn afresh each epoch by another hand (slant, width, "
                               "baseline, stroke weight: seqtrain.distort)")
    seed: int = knob(0, "random seed for weights and shuffling (the strings: seeds 50000 onwards)")
    jobs: int = knob(0, "processes composing the strings, 0 = one per core")
    threads: int = knob(0, "torch threads, 0 = torch's default (all cores)")

    def to_dict(self) -> dict:
        return asdict(self)
