"""GLIDE training: the text transformer and the U-Net together, improved DDPM's hybrid loss,
caption dropout for classifier-free guidance, EMA.

One step (GLIDE sec. 2-3, on improved DDPM's losses):

1. the batch's captions (fresh ones drawn from the scenes' attributes when the batch has them,
   as the dalle and ldm recipes do), each replaced by the empty caption with probability
   ``caption_dropout`` (the null condition of classifier-free guidance);
2. an inpainting model: a random rectangle per image is the mask (white = repaint; the whole
   image one time in ten, so the prompt alone also works), the masked image and the mask are
   extra input channels; an upsampler: the image downsampled (antialiased bilinear) to
   ``low_res_size``, noised with std ~ U(0, ``low_res_noise``), and upsampled back;
3. t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps;
4. L_simple on eps, plus ``hybrid_lambda`` L_vlb moving only the variance channels (learned
   variance); AdamW with warm-up, grad norm clipped at 1;
5. an exponential moving average of both networks, shipped at the end.

Before the first step the tokenizer is learned from the training split's captions (CLIP's
byte-level BPE, ``tokenizer_merges`` merges); a model started from another (``init_from``:
the inpainting model from the base) takes that model's tokenizer and weights instead, the
U-Net's new input channels starting at zero so that it begins as the base model.

Speed of the scenes preset (widths 32/64/64, attention at 8x8 and in the middle, a 2-block
text transformer of width 64): see the preset's comment in config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.glide.config import GlideConfig
from zoo.plugins.glide.model import GlideGenerator
from zoo.plugins.nn.clip_bpe import CLIPBPETokenizer, build_clip_vocab
from zoo.plugins.nn.diffusion import EMA, q_sample, vlb_terms
from zoo.plugins.nn.scenes import fresh_captions
from zoo.registry.contracts import DataNeeds, Recipe
from zoo.registry.errors import RequestError

FULL_MASK_RATE = 0.1  # inpainting: share of masks covering the whole image


class GlideRecipe(Recipe):
    generator: GlideGenerator
    config: GlideConfig

    def __init__(
        self, generator: GlideGenerator, config: GlideConfig, device: torch.device
    ) -> None:
        super().__init__(generator, config, device)
        c = config
        if c.schedule.variance_type == "learned_range" and c.schedule.prediction_type != "epsilon":
            raise RequestError("the hybrid loss is written for eps-prediction models")
        self.source = c.init_from
        if c.init_from:
            self._start_from(generator.component("init"))
        self.text = generator.text_encoder.to(device)
        self.unet = generator.unet.to(device)
        params = [*self.unet.parameters(), *self.text.parameters()]
        self.opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        warmup = c.warmup_steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        self.ema_unet = EMA(self.unet, c.ema_decay).to(device)
        self.ema_text = EMA(self.text, c.ema_decay).to(device)
        self.alphas_cumprod = c.schedule.alphas_cumprod().to(device)

    def _start_from(self, source: Any) -> None:
        """Copy ``source``'s tokenizer and weights (a glide model); input channels the source
        lacks start at zero."""
        if not isinstance(source, GlideGenerator):
            raise RequestError(f"init_from '{self.source}' is not a glide model; name one")
        gen = self.generator
        gen.use_tokenizer(source.tokenizer)
        try:
            gen.text_encoder.load_state_dict(source.text_encoder.state_dict())
            own = gen.unet.state_dict()
            theirs = source.unet.state_dict()
            for key, value in theirs.items():
                if key == "stem.weight" and value.shape[1] < own[key].shape[1]:
                    grown = torch.zeros_like(own[key])
                    grown[:, : value.shape[1]] = value
                    value = grown
                own[key] = value
            gen.unet.load_state_dict(own)
        except (RuntimeError, KeyError) as err:
            first = str(err).strip().splitlines()[0][:160]
            raise RequestError(
                f"init_from '{self.source}' has another shape than this config ({first}); "
                "use the preset it was trained with"
            ) from None
        gen.config = gen.config.model_copy(update={"init_from": None})

    @classmethod
    def needs(cls, config: GlideConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True)

    def prepare(self, split: Mapping[str, Any]) -> None:
        """Learn the tokenizer from the split's captions (unless started from a model)."""
        if self.source:
            return
        vocab, merges = build_clip_vocab(split["caption"], self.config.tokenizer_merges)
        tokenizer = CLIPBPETokenizer(vocab, merges, model_max_length=self.config.text_context)
        self.generator.use_tokenizer(tokenizer)

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

    def _masks(self, b: int, h: int, w: int) -> torch.Tensor:
        """(b, 1, h, w) random rectangles of 1 (repaint), each side 1/4 to 3/4 of the image's;
        the whole image with probability FULL_MASK_RATE."""
        r = torch.rand(b, 5)
        mh = (h * (0.25 + 0.5 * r[:, 0])).long().clamp(min=1)
        mw = (w * (0.25 + 0.5 * r[:, 1])).long().clamp(min=1)
        top = ((h - mh + 1) * r[:, 2]).long()
        left = ((w - mw + 1) * r[:, 3]).long()
        ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
        rows = (ys >= top[:, None]) & (ys < (top + mh)[:, None])
        cols = (xs >= left[:, None]) & (xs < (left + mw)[:, None])
        mask = (rows[:, :, None] & cols[:, None, :]) | (r[:, 4] < FULL_MASK_RATE)[:, None, None]
        return mask[:, None].float().to(self.device)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        c = self.config
        x_0 = batch["image"].to(self.device).float() * 2 - 1
        b, _, h, w = x_0.shape
        # 1. captions, some dropped to ""
        states, pooled, keep = self.generator.text_states(self._captions(batch))
        # 2. what the U-Net reads besides x_t
        extra = []
        if c.inpaint:
            mask = self._masks(b, h, w)
            extra = [x_0 * (1 - mask), mask]
        elif c.low_res_size:
            low = F.interpolate(x_0, size=(c.low_res_size,) * 2, mode="bilinear", antialias=True)
            sigma = torch.rand(b, 1, 1, 1, device=self.device) * c.low_res_noise
            low = low + sigma * torch.randn_like(low)
            extra = [F.interpolate(low, size=(h, w), mode="bilinear")]
        # 3. t, eps and x_t
        t = torch.randint(0, c.schedule.num_train_timesteps, (b,), device=self.device)
        eps = torch.randn_like(x_0)
        x_t = q_sample(x_0, t, eps, self.alphas_cumprod)
        # 4. the hybrid loss
        out = self.unet(torch.cat([x_t, *extra], dim=1), t, states, pooled, keep)
        pred, var_values = out[:, : c.channels], out[:, c.channels :]
        simple = F.mse_loss(pred, eps)
        losses = {"mse": simple.item()}
        loss = simple
        if c.schedule.variance_type == "learned_range":
            vlb = vlb_terms(x_0, x_t, t, pred, var_values, self.alphas_cumprod).mean()
            loss = simple + c.hybrid_lambda * vlb
            losses["vlb"] = vlb.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [*self.unet.parameters(), *self.text.parameters()]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        self.opt.step()
        self.sched.step()
        # 5. the averages
        self.ema_unet.update(self.unet)
        self.ema_text.update(self.text)
        return {"loss": loss.item(), **losses}

    def finish(self) -> None:
        """Ship the EMA weights."""
        self.ema_unet.copy_to(self.unet)
        self.ema_text.copy_to(self.text)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        s = c.schedule
        # a card names no folder of the training machine
        source = (
            Path(self.source).name
            if self.source and Path(self.source).is_absolute()
            else self.source
        )
        loss = "L_simple (MSE on the noise)"
        if s.variance_type == "learned_range":
            loss += f" + {c.hybrid_lambda} L_vlb (learned variance, hybrid loss)"
        summary = {
            "loss": loss,
            "schedule": f"{s.beta_schedule} betas, T = {s.num_train_timesteps}",
            "text": f"transformer of {c.text_layers} blocks, width {c.text_width}, "
            f"{c.text_context} tokens, trained jointly with the U-Net; its end-of-text state "
            "joins the timestep embedding, its token states every attention's keys and values",
            "tokenizer": f"CLIP byte-level BPE, {c.tokenizer_merges} merges learned from the "
            "training captions"
            if not self.source
            else f"the tokenizer of {source}",
            "optimizer": f"AdamW lr {c.lr:g}, weight decay {c.weight_decay:g}, "
            f"{c.warmup_steps} warm-up steps, grad norm clipped at 1",
            "guidance": f"captions dropped to the empty caption with p = {c.caption_dropout}",
            "ema": f"decay {c.ema_decay} (warmed up); the shipped networks are the EMA",
        }
        if self.source:
            summary["init"] = f"started from {source}; new input channels at zero"
        if c.inpaint:
            summary["masks"] = (
                "random rectangles, each side 1/4 to 3/4 of the image's (the whole image with "
                f"p = {FULL_MASK_RATE}); masked image and mask are 4 extra input channels"
            )
        if c.low_res_size:
            summary["low_res"] = (
                f"the image at {c.low_res_size}x{c.low_res_size} (antialiased bilinear), noised "
                f"with std ~ U(0, {c.low_res_noise}), upsampled bilinearly: C extra channels"
            )
        return summary
