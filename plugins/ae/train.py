"""Autoencoder training recipe: MSE between the input and its reconstruction."""

from __future__ import annotations

from zoo.plugins.nn.autoencoder import ReconstructionRecipe


class AERecipe(ReconstructionRecipe):
    """L = mean |d(e(x)) - x|^2, Adam: the shared reconstruction recipe, input uncorrupted."""
