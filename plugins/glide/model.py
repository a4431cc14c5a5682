"""GLIDE: text-guided pixel diffusion, sampled by any diffusion sampler.

Paper: Nichol, Dhariwal, Ramesh, Shyam, Mishkin, McGrew, Sutskever & Chen, "GLIDE: Towards
Photorealistic Image Generation and Editing with Text-Guided Diffusion Models" (2021),
arXiv:2112.10741. Improved DDPM's cosine schedule, learned variance and hybrid loss
(Nichol & Dhariwal 2021); classifier-free guidance (Ho & Salimans 2022).

The prompt is read by CLIP's byte-level BPE (learned from the training captions, saved in the
model folder's ``tokenizer/``), so any text encodes: words the model never read split into
smaller pieces. A prompt longer than the context is cut, with one ``PromptTruncatedWarning``
naming the dropped tail; an empty prompt is refused. The networks (``plugins/nn/glide.py``):
a text transformer whose end-of-text state joins the timestep embedding and whose token states
are appended to the keys and values of every attention layer of the U-Net.

- text-to-image: eps = eps(x_t, "") + s (eps(x_t, prompt) - eps(x_t, "")); the empty caption
  (or ``--negative-prompt``) is the null condition, learned with caption dropout. Without
  ``--prompt`` the model draws from the empty caption alone (unconditionally).
- CLIP guidance (``--clip-scale``) through the card's noise-aware ``clip`` component.
- img2img (``--image --strength``) and, for a base model, inpainting by blending
  (``--image --mask``): every sampler supports them (``start_sample``, ``kept_region``).
- an inpainting model (``inpaint``): the masked image and the mask are four extra input
  channels at every step; the unmasked region is also kept by blending, so after the last step
  it is the input image itself. Without ``--image`` it draws from the prompt alone (the whole
  canvas masked).
- an upsampler (``low_res_size``): the low-resolution ``--image``, bilinearly upsampled, is C
  extra input channels.
- a cascade: a base whose card names an ``upsampler`` component draws at that upsampler's size
  (``--height/--width``, or ``--stage cascade``) by drawing its own images and handing each,
  with the prompt, to the upsampler (``next_stage``; the app runs the stages).

Where it differs: tiny networks trained for an hour on a CPU, 32x32 scenes; padding tokens are
masked out of the attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from zoo.plugins.glide.config import GlideConfig, GlideOptions
from zoo.plugins.nn.clip_bpe import CLIPBPETokenizer, build_clip_vocab
from zoo.plugins.nn.glide import GlideUNet, TextTransformer
from zoo.plugins.nn.text import refuse_blank, warn_truncated
from zoo.registry.contracts import Conditions, ImageRule, NextStage, ReferenceNetwork
from zoo.registry.diffusion import (
    DiffusionGenerator,
    GradientGuide,
    NoiseAwareNetwork,
    NoiseSchedule,
    check_guide_schedule,
    guide_text,
)
from zoo.registry.errors import CardError, RequestError
from zoo.registry.options import Options

if TYPE_CHECKING:
    from zoo.registry.schemas import Capability

TOKENIZER_FOLDER = "tokenizer"
DEFAULT_STRENGTH = 0.8  # img2img without --strength


def build_networks(config: GlideConfig) -> tuple[TextTransformer, GlideUNet]:
    c = config
    text = TextTransformer(c.vocab_size, c.text_context, c.text_width, c.text_layers, c.text_heads)
    learned = c.schedule.variance_type == "learned_range"
    unet = GlideUNet(
        in_channels=c.in_channels,
        out_channels=c.channels * (2 if learned else 1),
        base=c.base_channels,
        mults=c.channel_mults,
        num_res_blocks=c.num_res_blocks,
        attention=c.attention_resolutions,
        image_size=c.image_size,
        text_width=c.text_width,
        dropout=c.dropout,
        heads=c.attention_heads,
    )
    return text, unet


class GlideGenerator(DiffusionGenerator):
    family = "glide"
    capabilities = ("unconditional", "text", "image", "mask")
    config_class = GlideConfig
    options_class = GlideOptions
    config: GlideConfig

    def __init__(self, config: GlideConfig) -> None:
        super().__init__(config)
        self.text_encoder, self.unet = build_networks(config)
        # CLIP's byte-level vocabulary without merges until a folder's tokenizer is read
        vocab, merges = build_clip_vocab([], num_merges=0)
        self.tokenizer = CLIPBPETokenizer(vocab, merges, model_max_length=config.text_context)
        self._recent: dict[str, list[int]] = {}  # the last draws' texts, noticed once

    # -- what it is ------------------------------------------------------------------

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"text_encoder": self.text_encoder, "unet": self.unet}

    def component_refs(self) -> dict[str, str]:
        """The model a recipe starts from (``init_from``); none once trained."""
        return {"init": self.config.init_from} if self.config.init_from else {}

    def schedule(self) -> NoiseSchedule:
        return self.config.schedule

    def default_steps(self) -> int:
        return self.config.sampling_steps

    def default_guidance(self, conditions: Conditions | None = None) -> float | None:
        """The config's scale; None for a model trained without caption dropout, or for a
        request with no text (both branches would be the empty caption)."""
        if self.config.caption_dropout == 0:
            return None
        if conditions is not None and conditions.prompt is None:
            if conditions.negative_prompt is None:
                return None
        return self.config.guidance

    @property
    def factor(self) -> int:
        """Each side of a drawn image must be a multiple of this (the U-Net's downsampling)."""
        return 2 ** (len(self.config.channel_mults) - 1)

    @property
    def upscale(self) -> int:
        """An upsampler's factor (1 for other models)."""
        c = self.config
        return c.image_size // c.low_res_size if c.low_res_size else 1

    def condition_shape(self) -> tuple[int, int, int] | None:
        """The low-resolution input of an upsampler, else the input image of img2img and
        inpainting, at the model's size."""
        c = self.config
        side = c.low_res_size or c.image_size
        return (c.channels, side, side)

    def image_rule(self) -> ImageRule | None:
        multiple = max(1, self.factor // self.upscale)
        return ImageRule(channels=self.config.channels, multiple_of=multiple, max_size=512)

    def shape_for(self, conditions: Conditions) -> tuple[int, int, int]:
        c = self.config
        h = w = c.image_size
        if conditions.image is not None:
            ih, iw = (int(d) * self.upscale for d in conditions.image.shape[-2:])
            if (conditions.height or ih) != ih or (conditions.width or iw) != iw:
                raise RequestError(
                    f"this model draws at {'its input size times ' + str(self.upscale) if self.upscale > 1 else 'its input size'} "
                    f"({iw}x{ih}); drop --height/--width"
                )
            h, w = ih, iw
        elif c.low_res_size:
            raise RequestError("this is an upsampler: pass the low-resolution image with --image")
        h, w = conditions.height or h, conditions.width or w
        for name, v in (("height", h), ("width", w)):
            if v % self.factor:
                raise RequestError(
                    f"--{name} {v} is not a multiple of {self.factor} for this model"
                )
        return (c.channels, h, w)

    def example_request(self) -> dict[str, Any]:
        return {"prompt": self.config.example_prompt}

    def required_conditions(self) -> tuple[Capability, ...]:
        return ("image",) if self.config.low_res_size else ()

    # -- the cascade -----------------------------------------------------------------

    def next_stage(self, conditions: Conditions, options: Options) -> NextStage | None:
        """The card's ``upsampler`` component when the request asks for its size (or for
        ``--stage cascade``); None for the base alone."""
        stage = options.stage if isinstance(options, GlideOptions) else None
        if stage == "base":
            return None
        up = self.components.get("upsampler")
        if up is None:
            if stage == "cascade":
                raise RequestError(
                    "--stage cascade needs an upsampler: this model's card names no "
                    "'upsampler' component (zoo.components.upsampler); drop --stage"
                )
            return None
        asked = (conditions.height, conditions.width)
        if stage is None and asked == (None, None):
            return None  # the base alone at its own size
        own = replace(conditions, height=None, width=None)
        c, h, w = self.shape_for(own)
        reads = up.condition_shape() if isinstance(up, DiffusionGenerator) else None
        uh, uw = h, w
        if reads == (c, h, w):
            _, uh, uw = up.shape_for(Conditions(image=torch.zeros(1, c, h, w)))
        if uh <= h or uw <= w:
            said = f"{reads[2]}x{reads[1]} {reads[0]}-channel" if reads else "no"
            raise CardError(
                f"the 'upsampler' component reads {said} images and draws them at no larger "
                f"size; this model draws {w}x{h} {c}-channel ones: point "
                "zoo.components.upsampler at an upsampler from them"
            )

        def fits(size: tuple[int, int]) -> bool:
            return all(a in (None, b) for a, b in zip(asked, size, strict=True))

        if stage == "cascade" and not fits((uh, uw)):
            raise RequestError(
                f"--stage cascade draws {uw}x{uh} (the base's {w}x{h}, then the upsampler); "
                "drop --height/--width"
            )
        if stage is None and not fits((uh, uw)):
            if fits((h, w)):
                return None
            size = f"{conditions.width or w}x{conditions.height or h}"
            raise RequestError(
                f"this model draws {w}x{h} (the base) or {uw}x{uh} (the base, then its "
                f"upsampler), not {size}; ask for one of them, or --stage base to draw the "
                "base alone at another size"
            )
        opts = options if isinstance(options, GlideOptions) else GlideOptions()
        carried = Conditions(
            prompt=conditions.prompt,
            negative_prompt=conditions.negative_prompt,
            height=uh,
            width=uw,
        )
        return NextStage("upsampler", own, carried, opts.upsampler_steps, opts.upsampler_sampler)

    # -- the tokenizer ---------------------------------------------------------------

    def use_tokenizer(self, tokenizer: CLIPBPETokenizer) -> None:
        """Read prompts with ``tokenizer`` (one learned from the captions, or the base's)."""
        if len(tokenizer.vocab) > self.config.vocab_size:
            raise RequestError(
                f"the tokenizer has {len(tokenizer.vocab)} tokens; the text transformer embeds "
                f"{self.config.vocab_size}: --set vocab_size=... or fewer tokenizer_merges"
            )
        tokenizer.model_max_length = self.config.text_context
        self.tokenizer = tokenizer
        self._recent = {}

    def read_files(self, folder: Path) -> None:
        path = folder / TOKENIZER_FOLDER
        if not path.is_dir():
            raise CardError(f"{folder} has no {TOKENIZER_FOLDER}/ folder (the BPE tokenizer)")
        self.use_tokenizer(CLIPBPETokenizer.from_folder(path))

    def write_files(self, folder: Path) -> None:
        self.tokenizer.save(folder / TOKENIZER_FOLDER)

    def token_ids(
        self, texts: Sequence[str], notice: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, L) int64, keep (B, L) bool) for ``texts``: start token, the text's tokens cut
        to the context, end token, padding (keep False). With ``notice``, a text that is cut
        warns once (``PromptTruncatedWarning``, naming the dropped tail)."""
        ctx = self.config.text_context
        tok = self.tokenizer
        rows, lengths = [], []
        for text in texts:
            body = self._body(text, notice)
            row = [tok.bos_id, *body, tok.eos_id]
            lengths.append(len(row))
            rows.append(row + [tok.pad_id] * (ctx - len(row)))
        ids = torch.tensor(rows, dtype=torch.long).reshape(len(rows), ctx)
        keep = torch.arange(ctx)[None, :] < torch.tensor(lengths)[:, None]
        return ids, keep

    def _body(self, text: str, notice: bool) -> list[int]:
        room = self.config.text_context - 2
        if not notice:
            return self.tokenizer.encode(text)[:room]
        if text in self._recent:
            return self._recent[text]  # a draw's later batches: noticed already
        body = self.tokenizer.encode(text)
        if len(body) > room:
            warn_truncated(self.tokenizer, body, room)
        if len(self._recent) >= 4:
            self._recent.clear()
        self._recent[text] = body[:room]
        return body[:room]

    def text_states(
        self, texts: Sequence[str], notice: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(states (B, L, W), pooled (B, W), keep (B, L)) of the text transformer."""
        device = next(self.text_encoder.parameters()).device
        ids, keep = self.token_ids(texts, notice)
        states, pooled = self.text_encoder(ids.to(device), keep.to(device))
        return states, pooled, keep.to(device)

    # -- conditions ------------------------------------------------------------------

    def encode_conditions(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        c = self.config
        prompt, image, mask = conditions.prompt, conditions.image, conditions.mask
        refuse_blank(prompt)
        if conditions.strength is not None and image is None:
            raise RequestError("--strength needs --image (how far that image may be changed)")
        if mask is not None and image is None:
            raise RequestError("--mask needs --image (the image whose white region is repainted)")
        if c.low_res_size and (image is None or mask is not None):
            raise RequestError("this is an upsampler: pass the low-resolution --image, no --mask")
        b = len(seeds)
        states, pooled, keep = self.text_states(
            [prompt or "", conditions.negative_prompt or ""], notice=True
        )
        out: dict[str, Any] = {}
        for key, value in (("text", states), ("pooled", pooled), ("keep", keep)):
            out[key] = value[:1].expand(b, *value.shape[1:])
            out["null_" + key] = value[1:].expand(b, *value.shape[1:])
        clip_text = self._clip_text(conditions, options)
        if clip_text is not None:
            out["clip_text"] = clip_text.repeat(b, 1)
        _, h, w = self.shape_for(conditions)
        if c.inpaint:
            # without a mask everything is repainted (as in training's whole-image masks); an
            # --image alone is then img2img, as on the base model
            whole = torch.ones(1, 1, h, w)
            region = whole if mask is None else mask.float()
            x0 = torch.zeros(1, c.channels, h, w) if mask is None else image.float() * 2 - 1
            out["masked"] = (x0 * (1 - region)).expand(b, -1, -1, -1)
            out["mask"] = region.expand(b, -1, -1, -1)
        elif c.low_res_size and image is not None:
            low = F.interpolate(image.float() * 2 - 1, size=(h, w), mode="bilinear")
            out["low_res"] = low.expand(b, -1, -1, -1)
            return out
        if image is None:
            return out
        x0 = (image.float() * 2 - 1).expand(b, -1, -1, -1)
        if mask is not None:
            out["kept"], out["keep_mask"] = x0, mask.float().expand(b, -1, -1, -1)
        if conditions.strength is not None or mask is None:
            out["start"], out["strength"] = x0, conditions.strength or DEFAULT_STRENGTH
        return out

    def null_conditions(self, encoded: dict[str, Any]) -> dict[str, Any] | None:
        if self.config.caption_dropout == 0:
            return None
        null = {k: encoded["null_" + k] for k in ("text", "pooled", "keep")}
        return {**encoded, **null}

    def start_sample(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, float] | None:
        return (encoded["start"], float(encoded["strength"])) if "start" in encoded else None

    def kept_region(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
        return (encoded["kept"], encoded["keep_mask"]) if "kept" in encoded else None

    # -- the network -----------------------------------------------------------------

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        dtype = next(self.unet.parameters()).dtype
        x = x_t
        if self.config.inpaint:
            x = torch.cat([x_t, encoded["masked"].to(x_t), encoded["mask"].to(x_t)], dim=1)
        elif self.config.low_res_size:
            x = torch.cat([x_t, encoded["low_res"].to(x_t)], dim=1)
        t = torch.as_tensor(t, device=x_t.device)
        if t.dim() == 0:
            t = t.expand(x_t.shape[0])
        return self.unet(x.to(dtype), t, encoded["text"], encoded["pooled"], encoded["keep"])

    # -- CLIP guidance ---------------------------------------------------------------

    def gradient_guides(self, encoded: dict[str, Any], options: Options) -> list[GradientGuide]:
        """CLIP guidance toward the prompt's embedding when --clip-scale is set."""
        scale = options.clip_scale if isinstance(options, GlideOptions) else 0.0
        if not scale:
            return []
        clip, target = self._clip(), encoded["clip_text"]
        return [GradientGuide("clip", scale, lambda x_t, t: clip.guide_score(x_t, t, target))]

    def _clip_text(self, conditions: Conditions, options: Options) -> torch.Tensor | None:
        """(1, D) embedding of the prompt by the card's noise-aware CLIP under --clip-scale."""
        scale = options.clip_scale if isinstance(options, GlideOptions) else 0.0
        if not scale:
            return None
        if conditions.prompt is None:
            raise RequestError("--clip-scale steers toward a prompt; give one with --prompt")
        clip = self._clip()
        return guide_text(clip, conditions.prompt)

    def _clip(self) -> NoiseAwareNetwork:
        """The card's ``clip`` component, checked to read this model's x_t."""
        if "clip" not in self.components:
            raise RequestError(
                "--clip-scale needs a noise-aware CLIP: this model's card names no 'clip' "
                "component (zoo.components.clip)"
            )
        net = self.components["clip"]
        if not isinstance(net, NoiseAwareNetwork):
            raise RequestError(
                f"the 'clip' component is a {type(net).__name__}, not a noise-aware network "
                "(train one with `zoo train noisy-clip`)"
            )
        check_guide_schedule(self.config.schedule, net.noise_schedule(), "clip")
        c = self.config
        shape = net.input_shape() if isinstance(net, ReferenceNetwork) else None
        if shape is not None and shape != (c.channels, c.image_size):
            raise CardError(
                f"the 'clip' component reads {shape[0]}-channel {shape[1]}x{shape[1]} images; "
                f"this model draws {c.channels}-channel {c.image_size}x{c.image_size} ones; "
                "point the card's zoo.components.clip at one trained on them"
            )
        return net
