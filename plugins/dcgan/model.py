"""DCGAN: deep convolutional generative adversarial network.

Paper: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks" (2015), arXiv:1511.06434.

The generator maps z ~ N(0, I) through a 4x4 projection and transposed
convolutions (batchnorm + ReLU, tanh output) to an image; the discriminator
(in ``plugins/nn/gan.py``, used only for training) is strided convolutions
with LeakyReLU(0.2) and batchnorm. Trained with Adam 2e-4, betas (0.5, 0.999),
weights initialised from N(0, 0.02), as in the paper.

Where it differs: the paper draws z from a uniform distribution and works at
64x64 (four upsampling stages, 1024 channels at 4x4); here z is Gaussian and
the networks are sized for 16x16 digits (two stages, 128 channels at 4x4 by
default). The paper's dense projection of z to 4x4 maps is written as a 4x4
transposed convolution of z seen as a 1x1 map, which is the same operation.
"""

from __future__ import annotations

from zoo.plugins.dcgan.config import DCGANConfig
from zoo.plugins.nn.gan import ConvDiscriminator, UnconditionalConvGenerator


def build_discriminator(config: DCGANConfig) -> ConvDiscriminator:
    """The critic the recipe trains against; not shipped with the model."""
    return ConvDiscriminator(config.channels, config.image_size, config.d_channels)


class DCGANGenerator(UnconditionalConvGenerator):
    """The generator body of ``plugins/nn/gan.py`` (``UnconditionalConvGenerator``) under
    the name "dcgan"; the family's own part is its recipe (BCE against a ConvDiscriminator)."""

    family = "dcgan"
    config_class = DCGANConfig
