"""Latent diffusion training: a U-Net and a text transformer on a frozen autoencoder's latents.

Rombach et al. 2022 (sec. 3.3, 4.3): the autoencoder is trained first (a klvae model) and
frozen; the diffusion model learns in its latent space, z_0 = scaling_factor * z with
z ~ q(z | x) drawn per image, and the text transformer that the U-Net cross-attends to is
trained jointly with it (LDM's text-to-image models; Stable Diffusion froze a pretrained
CLIP instead). One step:

1. z_0 from the frozen encoder; each caption replaced by "" with probability
   ``caption_dropout`` (the null condition of classifier-free guidance, Ho & Salimans 2022);
   with the scenes' attributes in the batch, a fresh caption of each scene is drawn
   (another template and synonyms), as the dalle recipe does;
2. t ~ U{0..T-1}, eps ~ N(0, I), z_t = sqrt(alpha_bar_t) z_0 + sqrt(1 - alpha_bar_t) eps;
3. L = |pred - target|^2 averaged, target eps (or v, or z_0, as the scheduler config says),
   pred = unet(z_t, t, text_encoder(tokens)); AdamW with warm-up, gradient norm clipped at 1;
4. an exponential moving average of the U-Net and the text encoder, shipped at the end.

Before the first step the tokenizer is learned from the training split's captions
(``build_clip_vocab``, ``tokenizer_merges`` merges): CLIP's byte-level BPE, so any prompt
encodes (words it never saw split into smaller pieces). The trained folder holds the
autoencoder's config and weights as its own ``vae`` and the tokenizer in ``tokenizer/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.ldm.config import UNTRAINED, LDMConfig
from zoo.plugins.ldm.model import LatentDiffusionGenerator
from zoo.plugins.nn.clip_bpe import BYTE_TOKENS, CLIPBPETokenizer, build_clip_vocab
from zoo.plugins.nn.diffusion import EMA, q_sample, target_for
from zoo.plugins.nn.scenes import fresh_captions
from zoo.plugins.nn.sd_vae import KLAutoencoder
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError


class LDMRecipe(Recipe):
    generator: LatentDiffusionGenerator
    config: LDMConfig

    def __init__(
        self, generator: LatentDiffusionGenerator, config: LDMConfig, device: torch.device
    ) -> None:
        super().__init__(generator, config, device)
        c = config
        self.source = c.autoencoder
        if c.autoencoder is None:
            raise RequestError(
                "ldm training needs a trained autoencoder: --set autoencoder=FOLDER_OR_ID of "
                "a klvae model (zoo train klvae --data scenes --out runs/klvae-scenes)"
            )
        if c.autoencoder != UNTRAINED:
            generator.use_autoencoder(self._copy_of(generator.component("autoencoder")))
        unet_in = generator.unet_config.in_channels
        if unet_in != generator.latent_channels:
            raise RequestError(
                f"this U-Net takes {unet_in} channels (inpainting); the recipe trains "
                f"text-to-image U-Nets of {generator.latent_channels} (--set unet=...)"
            )
        vocab_size = generator.text_encoder.config.vocab_size
        if BYTE_TOKENS + c.tokenizer_merges > vocab_size:
            raise RequestError(
                f"tokenizer_merges {c.tokenizer_merges} can make {BYTE_TOKENS + c.tokenizer_merges}"
                f" tokens; the text encoder embeds {vocab_size}: lower tokenizer_merges to "
                f"{max(vocab_size - BYTE_TOKENS, 0)} or raise text_encoder.vocab_size"
            )
        self.vae = generator.vae.requires_grad_(False).eval()
        self.unet = generator.unet.to(device)
        self.text = generator.text_encoder.to(device)
        params = [*self.unet.parameters(), *self.text.parameters()]
        self.opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        warmup = c.warmup_steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        self.ema_unet = EMA(self.unet, c.ema_decay).to(device)
        self.ema_text = EMA(self.text, c.ema_decay).to(device)
        schedule = generator.schedule()
        self.prediction = schedule.prediction_type
        self.alphas_cumprod = schedule.alphas_cumprod().to(device)

    def _copy_of(self, component: Any) -> KLAutoencoder:
        """A frozen copy of the KL autoencoder of a loaded model (a klvae model, or any whose
        networks hold one, such as another ldm model)."""
        nets = component.networks() if hasattr(component, "networks") else {}
        source = next((m for m in nets.values() if isinstance(m, KLAutoencoder)), None)
        if source is None:
            raise RequestError(
                f"autoencoder '{self.source}' holds no KL autoencoder; name a klvae model"
            )
        vae = KLAutoencoder(source.config)
        vae.load_state_dict(source.state_dict())
        return vae

    @classmethod
    def needs(cls, config: LDMConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True, config_fields={})

    def prepare(self, split: Mapping[str, Any]) -> None:
        """Learn the tokenizer from the split's captions."""
        vocab, merges = build_clip_vocab(split["caption"], self.config.tokenizer_merges)
        length = min(77, self.text.config.max_position_embeddings)
        self.generator.use_tokenizer(CLIPBPETokenizer(vocab, merges, model_max_length=length))

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {
            "unet": self.unet,
            "text_encoder": self.text,
            "ema_unet": self.ema_unet,
            "ema_text_encoder": self.ema_text,
        }

    def optimizers(self) -> dict[str, Any]:
        return {"adamw": self.opt, "lr": self.sched}

    def _captions(self, batch: dict[str, Any]) -> list[str]:
        return fresh_captions(batch, self.config.caption_dropout)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        x = batch["image"].to(self.device).float() * 2 - 1
        texts = self._captions(batch)
        # 1. z_0 ~ scaling_factor * q(z | x), from the frozen encoder
        with torch.no_grad():
            z_0 = self.vae.latents(x, noise=self._latent_noise(x))
        # 2. t, eps and z_t
        t = torch.randint(0, len(self.alphas_cumprod), (len(x),), device=self.device)
        eps = torch.randn_like(z_0)
        z_t = q_sample(z_0, t, eps, self.alphas_cumprod)
        # 3. the prediction against its target
        ids = self.generator.tokenizer(texts).to(self.device)
        pred = self.unet(z_t, t, self.text(ids)[0])
        loss = F.mse_loss(pred, target_for(self.prediction, z_0, eps, t, self.alphas_cumprod))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [*self.unet.parameters(), *self.text.parameters()]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        self.opt.step()
        self.sched.step()
        # 4. the averages
        self.ema_unet.update(self.unet)
        self.ema_text.update(self.text)
        return {"loss": loss.item()}

    def _latent_noise(self, x: torch.Tensor) -> torch.Tensor:
        f, c = self.vae.downscale, self.vae.config.latent_channels
        return torch.randn(len(x), c, x.shape[-2] // f, x.shape[-1] // f, device=x.device)

    def finish(self) -> None:
        """Ship the EMA weights."""
        self.ema_unet.copy_to(self.unet)
        self.ema_text.copy_to(self.text)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        s = self.generator.schedule()
        target = {"epsilon": "noise", "v_prediction": "v", "sample": "z_0"}[s.prediction_type]
        source = str(self.source)
        if source == UNTRAINED:
            source = "untrained (tests)"
        elif Path(source).is_absolute():  # a card names no folder of the training machine
            source = Path(source).name
        return {
            "loss": f"MSE on the {target} in the autoencoder's latent space (z drawn from "
            f"q(z|x), times scaling_factor {self.vae.config.scaling_factor:.4g})",
            "autoencoder": f"{source}, frozen; its config and weights are this model's vae",
            "text_encoder": "trained jointly with the U-Net from random initialisation",
            "tokenizer": f"CLIP byte-level BPE, {c.tokenizer_merges} merges learned from the "
            "training captions",
            "schedule": f"{s.beta_schedule} betas, T = {s.num_train_timesteps}",
            "optimizer": f"AdamW lr {c.lr:g}, weight decay {c.weight_decay:g}, "
            f"{c.warmup_steps} warm-up steps, grad norm clipped at 1",
            "guidance": f"captions dropped to the empty prompt with p = {c.caption_dropout}",
            "ema": f"decay {c.ema_decay} (warmed up); the shipped U-Net and text encoder are "
            "the EMA",
        }
