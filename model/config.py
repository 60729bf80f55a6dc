"""What a training run is asked to do: `TrainConfig`, and the named recipes behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from settings import DEFAULT_ARCHITECTURE

# Named recipes: a starting point that may pick the architecture too, with a "cuda"
# variant where the quickest route differs there (README "Benchmarks" has the times).
# - default: each architecture's own settings (`model.nets.ARCHITECTURES`): the best
#   model, not the quickest.
# - fast: the quickest route to 99 % MNIST test accuracy. On a CPU, LeNet-5 without
#   augmentation (far cheaper per image than the resnet, it gets there in a few short
#   epochs); on CUDA, where the resnet's step costs little more than LeNet's, the
#   resnet on a short schedule of large batches. For quick experiments and smoke runs;
#   the app should serve a default-recipe model.
RECIPES: dict[str, dict] = {
    "default": {},
    "fast": {
        "arch": "lenet5",
        "epochs": 4,
        "batch_size": 256,
        "lr": 6e-3,
        "augment": False,
        "style_share": 0.0,
        "cuda": {"arch": "resnet", "epochs": 3, "batch_size": 1024, "lr": 1e-2, "augment": True},
    },
}


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    outlier_fraction: float = 0.25  # scribbles added per batch, as a share of its size
    outlier_weight: float = 0.0  # weight of the uniform-target loss on them (0: off)
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    limit: int | None = None  # train on the first N training images only
    # Training people's style digits (model.handwriting) added, as a share of the images.
    style_share: float = 0.2
    # Augmentation: widths scaled by a log-uniform factor in [1/stretch, stretch] (1: off;
    # older cards, which lack it, trained without).
    stretch: float = 1.0
    # The resnet's channels, as a share of SmallResNet's full widths (older cards, which
    # lack it, are full width); the other architectures have one width: 1.
    width: float = 1.0
    # Saved models whose mean probabilities join the labels as targets (`model.distil`),
    # and their share of the target; none: labels alone (older cards, which lack it).
    teachers: tuple[str, ...] = ()
    teacher_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.teacher_weight <= 1:
            raise ValueError(
                f"teacher_weight is the teachers' share of the target, from 0 to 1; "
                f"got {self.teacher_weight}"
            )

    @classmethod
    def for_arch(cls, arch: str, **overrides) -> TrainConfig:
        """The defaults of `arch` (its CUDA ones on CUDA) with the non-None `overrides`."""
        from model.nets import architecture  # torch: the card reads configs without it

        given = {k: v for k, v in overrides.items() if v is not None}
        values = architecture(arch).training_defaults(_on_cuda(given))
        return cls(arch=arch, **(values | given))

    @classmethod
    def for_recipe(cls, recipe: str, arch: str | None = None, **overrides) -> TrainConfig:
        """`recipe` (see `RECIPES`), then `arch` and the non-None `overrides` over it.

        `arch` None means the recipe's architecture (its CUDA variant's on CUDA), else
        `DEFAULT_ARCHITECTURE`.
        """
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        preset = dict(RECIPES[recipe])
        cuda_variant = preset.pop("cuda", {})
        if _on_cuda(given):
            preset |= cuda_variant
        recipe_arch = preset.pop("arch", DEFAULT_ARCHITECTURE)
        return cls.for_arch(arch or recipe_arch, **(preset | given))

    def as_dict(self) -> dict:
        return asdict(self)


def _on_cuda(overrides: dict) -> bool:
    """Whether a configuration with these overrides trains on CUDA."""
    from model.device import pick_device  # torch: the card reads configs without it

    return pick_device(str(overrides.get("device", "auto"))).type == "cuda"
