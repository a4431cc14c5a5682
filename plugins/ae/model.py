"""Autoencoder: compress an image to a small code and rebuild it.

Idea (the seeds, §1.2.1; Hinton & Salakhutdinov, "Reducing the Dimensionality of
Data with Neural Networks", Science 2006): an encoder maps x to a code
z = e(x) in a bottleneck much smaller than x, a decoder maps it back, and both
minimise |d(e(x)) - x|^2. The code is a compression of the data, but nothing
shapes where in code space the data lands, so a code drawn at random (from
N(0, I) or anywhere else) does not decode to a plausible image: an autoencoder
reconstructs, it does not generate. The VAE (plugins/vae) fixes that.

Where it differs: the 2006 paper pretrained deep networks layer by layer with
RBMs; here a small MLP trains end to end with Adam.

The network and the recipe are ``BottleneckAutoencoder`` and ``ReconstructionRecipe`` in
``plugins/nn/autoencoder.py``, which the denoising autoencoder (plugins/dae) shares.
"""

from __future__ import annotations

from zoo.plugins.nn.autoencoder import AutoencoderConfig, BottleneckAutoencoder


class AutoencoderNetwork(BottleneckAutoencoder):
    """The shared bottleneck autoencoder as the family "ae"."""

    family = "ae"
    config_class = AutoencoderConfig
