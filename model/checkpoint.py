"""Saving and loading a trained network together with its card.

A checkpoint is two files: `<name>.pt` (the state dict only, so it loads with
`torch.load(weights_only=True)` and no pickled code ever runs) and `<name>.json`
(the card). Loading verifies the weights' SHA-256 against the card before torch
reads a byte, so a truncated, swapped or tampered file fails with a message that
says which file and what to run, not with a stack trace from deep inside torch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from model.card import CardError, ModelCard, atomic_file, read_card, sha256_file, write_card
from model.novelty import NoveltyDetector, detector_path

if TYPE_CHECKING:
    import torch
    from torch import nn


class ModelLoadError(RuntimeError):
    """A saved model cannot be used; the message names the file and the fix."""


def weights_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}.pt"


def card_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_weights(net: nn.Module, weights: Path) -> str:
    """Write the state dict (atomically); return the file's SHA-256 for the card."""
    import torch

    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_file(weights) as temporary:
        torch.save(state, temporary)
    return sha256_file(weights)


def save_checkpoint(net: nn.Module, card: ModelCard, weights: Path) -> ModelCard:
    """Write the weights, then the card completed with their SHA-256; return the card."""
    weights = Path(weights)
    sha256 = save_weights(net, weights)
    card = replace(card, weights_file=weights.name, weights_sha256=sha256)
    write_card(card_path(weights), card)
    return card


def load_checkpoint(
    weights: Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, ModelCard]:
    """The network in eval mode on `device`, and its card."""
    card = verified_card(weights)
    return load_network(weights, card, device), card


def verified_card(weights: Path) -> ModelCard:
    """The card of `weights`, once the weights' SHA-256 matches it.

    Needs no torch: a server running an exported graph checks the weights it vouches
    for without loading them.
    """
    weights = Path(weights)
    try:
        card, card_error = read_card(card_path(weights)), None
    except CardError as err:
        card, card_error = None, err
    if not weights.is_file():
        architecture = card.architecture if card else None
        raise ModelLoadError(
            f"model weights {weights} not found; {_retrain_command(weights, architecture)}"
        )
    if card_error is not None:
        raise ModelLoadError(f"{card_error}; {_retrain_command(weights, None)}") from card_error
    actual = sha256_file(weights)
    if actual != card.weights_sha256:
        raise ModelLoadError(
            f"model weights {weights} do not match their card (SHA-256 {actual[:12]}..., "
            f"card says {card.weights_sha256[:12]}...): the file is corrupt or was "
            f"replaced; restore it from git or {_retrain_command(weights, card.architecture)}"
        )
    return card


def load_network(weights: Path, card: ModelCard, device: torch.device | str = "cpu") -> nn.Module:
    """The network of `weights` (already checked by `verified_card`) in eval mode on `device`."""
    import torch

    from model.nets import build

    try:
        net = build(card.architecture, card.config.width if card.config else 1.0)
    except ValueError as err:
        raise ModelLoadError(f"{card_path(weights)}: {err}") from err
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as err:  # torch raises many types for bad files; all mean the same
        raise ModelLoadError(
            f"model weights {weights} cannot be loaded as a {card.architecture!r} network "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
            f"{_retrain_command(Path(weights), card.architecture)}"
        ) from err
    return net.to(device).eval()


def load_detector(weights: Path, card: ModelCard) -> NoveltyDetector | None:
    """The card's novelty detector, verified like the weights; None if the card has none.

    Models trained before novelty detection existed have no entry: they flag unsure
    answers by confidence alone (`run_model.py evaluate --update-card` adds one).
    """
    entry = card.novelty
    if entry is None:
        return None
    path = detector_path(weights)
    fix = (
        f"restore it from git or run: python run_model.py evaluate --model {weights} --update-card"
    )
    if not path.is_file():
        raise ModelLoadError(f"novelty detector {path} not found; {fix}")
    if sha256_file(path) != entry.sha256:
        raise ModelLoadError(f"novelty detector {path} does not match its card; {fix}")
    try:
        return NoveltyDetector.load(path, entry.threshold)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"novelty detector {path} cannot be read ({err}); {fix}") from err


def _retrain_command(weights: Path, architecture: str | None) -> str:
    """What to run to make `weights` again: the card's architecture, else the name's."""
    from model.nets import ARCHITECTURES  # torch, but only once loading has failed

    if architecture not in ARCHITECTURES:
        architecture = weights.stem if weights.stem in ARCHITECTURES else "<arch>"
    name = "" if weights.stem == architecture else f" --name {weights.stem}"
    command = f"python run_model.py --arch {architecture}{name} --out {weights.parent}"
    return f"retrain it with: {command}"
