"""Noise-aware CLIP: image and text embeddings in one space, the image read as x_t at t.

Paper: Nichol et al., "GLIDE: Towards Photorealistic Image Generation and Editing with
Text-Guided Diffusion Models" (2021), arXiv:2112.10741, sec. 2.3 and 3: CLIP guidance
replaces a classifier by a CLIP whose image encoder f(x_t, t) was trained on noisy images
(a CLIP trained on clean ones is fooled by the noise), and steers each step along
s grad_x (f(x_t, t) . g(c)) for a caption c. GLIDE compares it with classifier-free
guidance and finds the latter preferred by people; the zoo lets both be measured.

The image tower is the diffusion U-Net's encoder half with the time embedding in every
ResBlock (``NoisyClassifierNet``, the noise-aware classifier's network, its head projecting
to the shared space instead of to class logits); the text tower, the learned logit scale
and the contrastive loss are the clip family's (``plugins/nn/clip.py``). A diffusion card
names it as its ``clip`` component; ``--prompt`` with ``--clip-scale`` then guides.

As a reference network it reads clean images (t = 0): ``features`` there and
``encode_text``, so ``zoo reference-eval`` reports its caption retrieval, at several noise
levels (``evaluate.py``).

Where it differs: a tokenizer learned from the scenes' captions (or, in the models trained
first, their word vocabulary) and a few hundred thousand parameters,
trained for minutes on a CPU; averaged pooling instead of attention pooling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.plugins.nn.clip import ClipTexts, TowerPair
from zoo.plugins.nn.text import make_tokenizer
from zoo.plugins.nn.unet import noisy_encoder
from zoo.plugins.noisyclip.config import NoisyClipConfig
from zoo.registry.contracts import ReferenceNetwork
from zoo.registry.diffusion import NoiseAwareNetwork, NoiseSchedule


class NoisyClipNetwork(ClipTexts, ReferenceNetwork, NoiseAwareNetwork):
    family = "noisy-clip"
    config_class = NoisyClipConfig
    config: NoisyClipConfig
    evaluator = "zoo.plugins.noisyclip.evaluate:evaluate_reference"

    def __init__(self, config: NoisyClipConfig) -> None:
        super().__init__(config)
        # the encoder's linear head is the projection into the shared space
        self.net = TowerPair(noisy_encoder(config, config.num_features), config)
        self.tokenizer = make_tokenizer(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"clip": self.net}

    def noise_schedule(self) -> NoiseSchedule:
        return self.config.schedule

    def image_embeddings(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, num_features) unit-length float32 embeddings of x_t (B, C, H, W) in the
        model's [-1, 1] sample space at timesteps t (B,)."""
        dtype = self.net.log_scale.dtype
        return F.normalize(self.net.image(x_t.to(dtype), t.to(x_t.device)).float(), dim=-1)

    def guide_score(self, x_t: torch.Tensor, t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """s cos(f(x_t, t), g_k) per image k: the score CLIP guidance climbs.

        f(x_t, t) is image k's embedding, g_k = ``target[k]`` (B, D) its text embedding
        (``encode_text``), both normalised, and s the learned logit scale exp(t) (at most
        100), as GLIDE's guide: the gradient of image k's InfoNCE logit for its caption.
        Image k's score reads image k alone (group norms, no batch statistics).
        """
        # a copy: embeddings made under inference mode cannot be saved for the backward pass
        g = F.normalize(target.to(x_t.device).float().clone(), dim=-1)
        scale = self.net.logit_scale().detach().float()
        return scale * (self.image_embeddings(x_t, t) * g).sum(-1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, num_features) unit-length embeddings at t = 0."""
        x = images.to(self.net.log_scale.device) * 2 - 1
        return self.image_embeddings(x, torch.zeros(x.shape[0], device=x.device))
