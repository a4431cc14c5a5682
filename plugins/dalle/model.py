"""DALL-E: text-to-image as next-token prediction over text tokens and discrete image codes.

Paper: Ramesh et al., "Zero-Shot Text-to-Image Generation" (2021), arXiv:2102.12092.
Two stages. (1) A discrete VAE compresses an image to a grid of codes: the encoder
gives logits over K codes per cell; in training a code is drawn with the
Gumbel-softmax relaxation (Jang et al. 2016; Maddison et al. 2016) at a temperature
annealed from 1 towards 1/16, the decoder reads the relaxed one-hot through a
codebook embedding, and the loss is the reconstruction term plus beta times the
KL divergence of q(z | x) from the uniform prior over codes. To tokenise an image
the encoder's argmax is taken. (2) A decoder-only transformer with causal
self-attention models the concatenation [text tokens, image codes] left to right,
trained with cross-entropy weighted 1/8 on text and 7/8 on image tokens. To sample,
the prompt's tokens are fed, the image codes are drawn one at a time, and the dVAE
decoder turns them into an image; ``--rerank N`` keeps the best of N candidates by
a CLIP score, as the paper does with its CLIP reranker.

Where it differs, at toy scale: 32x32 images on an 8x8 grid of K = 512 codes (the paper:
256x256 on 32x32 codes, K = 8192); reconstruction is mean squared error on [0, 1]
pixels (a Gaussian likelihood) instead of the paper's logit-Laplace distribution,
and beta is scaled to that per-value MSE; the dVAE is a few convolutions with
residual blocks at grid size (the paper: deep ResNet stacks); the text is CLIP's
byte-level BPE learned from the training captions (``tokenizer: bpe``; the paper: a
BPE of 16,384 tokens), or in the models trained first a word vocabulary of the
scenes' synonyms and templates (``tokenizer: words``), padded with one token whose
position embedding stands in for the paper's per-position padding tokens;
attention is dense and causal (the paper mixes row, column and convolutional
sparse masks) with learned position embeddings over the whole sequence (the paper
adds row and column embeddings for image tokens); the transformer has 4 blocks of
width 96 (the paper: 64 blocks of width 3968); the reranker is the zoo's small
``clip-scenes`` network, loaded when first used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.dalle.config import DalleConfig
from zoo.plugins.nn.autoencoder import ResBlock
from zoo.plugins.nn.text import PerRequest, ReadsText, make_tokenizer
from zoo.plugins.nn.transformer import Block, Past
from zoo.registry.contracts import Autoencoder, AutoregressiveGenerator, Conditions
from zoo.registry.errors import RequestError
from zoo.registry.options import Options

EXAMPLE_PROMPT = "a large red circle in the center"


# -- the discrete VAE ---------------------------------------------------------------------


class DiscreteVAE(nn.Module):
    """Images (B, C, S, S) <-> code grids (B, S/4, S/4) with K codes per cell.

    ``logits`` gives the encoder's (B, K, g, g) logits; ``decode_soft`` reads a
    (relaxed) one-hot (B, K, g, g) through the codebook (a bias-free 1x1
    convolution: each code's embedding) and returns images in [0, 1].
    """

    def __init__(self, config: DalleConfig) -> None:
        super().__init__()
        c, w = config, config.dvae_width
        self.encoder = nn.Sequential(
            nn.Conv2d(c.channels, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),  # S/2
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1),  # S/4
            *(ResBlock(2 * w) for _ in range(c.dvae_blocks)),
            nn.ReLU(),
            nn.Conv2d(2 * w, c.codebook_size, 1),
        )
        self.codebook = nn.Conv2d(c.codebook_size, c.code_dim, 1, bias=False)
        # upsampling as in the paper's decoder: nearest-neighbour tiling, then a convolution
        self.decoder = nn.Sequential(
            nn.Conv2d(c.code_dim, 2 * w, 3, padding=1),
            *(ResBlock(2 * w) for _ in range(c.dvae_blocks)),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(2 * w, w, 3, padding=1),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(w, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, c.channels, 1),
        )

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, K, g, g) code logits."""
        return self.encoder(2 * images - 1)

    def decode_soft(self, onehot: torch.Tensor) -> torch.Tensor:
        """(B, K, g, g) one-hot or relaxed one-hot -> (B, C, S, S) in [0, 1]."""
        return torch.sigmoid(self.decoder(self.codebook(onehot)))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, g, g) int64 codes -> (B, C, S, S) in [0, 1]."""
        k = self.codebook.in_channels
        onehot = F.one_hot(codes, k).permute(0, 3, 1, 2)
        return self.decode_soft(onehot.to(self.codebook.weight.dtype))


def gumbel_softmax(logits: torch.Tensor, tau: float, dim: int = 1) -> torch.Tensor:
    """softmax((logits + g) / tau) with g ~ Gumbel(0, 1) from the global torch RNG."""
    u = torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)
    g = -torch.log(-torch.log(u))
    return torch.softmax((logits + g) / tau, dim=dim)


def kl_to_uniform(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean over cells of KL(q || uniform) = sum_k q_k log q_k + log K, q = softmax(logits)."""
    logq = F.log_softmax(logits, dim=dim)
    k = logits.shape[dim]
    return ((logq.exp() * logq).sum(dim) + torch.log(torch.tensor(float(k)))).mean()


# -- the transformer ----------------------------------------------------------------------


class Transformer(nn.Module):
    """Decoder-only transformer over one vocabulary: text ids, then image codes offset by
    the text vocabulary's size. Two heads read the hidden states: text and image logits."""

    def __init__(self, config: DalleConfig) -> None:
        super().__init__()
        c = config
        self.text_vocab = c.text_rows
        self.token = nn.Embedding(self.text_vocab + c.codebook_size, c.width)
        # inputs are positions 0 .. T + L - 2: the last image code is only ever a target
        self.position = nn.Parameter(torch.zeros(c.text_length + c.image_tokens - 1, c.width))
        self.blocks = nn.ModuleList(Block(c.width, c.heads) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width)
        self.text_head = nn.Linear(c.width, self.text_vocab)
        self.image_head = nn.Linear(c.width, c.codebook_size)
        self.apply(_init)
        nn.init.normal_(self.position, std=0.02)

    def forward(
        self, ids: torch.Tensor, start: int = 0, past: list[Past] | None = None
    ) -> tuple[torch.Tensor, list[Past]]:
        """ids (B, n) at positions start..start+n-1 -> (hidden (B, n, W), keys/values per block)."""
        h = self.token(ids) + self.position[start : start + ids.shape[1]]
        new: list[Past] = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, causal=True, past=None if past is None else past[i])
            new.append(kv)
        return self.norm(h), new


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


# -- the generator ------------------------------------------------------------------------


class DalleGenerator(ReadsText, AutoregressiveGenerator, Autoencoder):
    """A trained DALL-E as the zoo sees it.

    Tokens drawn per image are the ``image_tokens`` codes of the grid in raster
    order; ``vocab_size`` is K. As an Autoencoder it is the dVAE: ``encode`` gives
    the argmax codes (B, L), ``decode`` draws them, so ``zoo reconstruct`` shows
    what the transformer's tokens can express. Its text is read by ``tokenizer``
    (``ReadsText``: a BPE model reads it from the folder's ``tokenizer/``).
    """

    family = "dalle"
    config_class = DalleConfig
    capabilities = ("text",)

    def __init__(self, config: DalleConfig) -> None:
        super().__init__(config)
        self.dvae = DiscreteVAE(config)
        self.transformer = Transformer(config)
        self.tokenizer = make_tokenizer(config)
        self._prompt = PerRequest()

    def networks(self) -> dict[str, nn.Module]:
        return {"dvae": self.dvae, "transformer": self.transformer}

    def _device(self) -> torch.device:
        return self.transformer.position.device

    # -- text

    def tokenize(self, texts: Sequence[str], *, strict: bool = False) -> torch.Tensor:
        """Texts -> (N, text_length) int64: the start token, the text's tokens (and with
        "bpe" the end token), padding (``tokenizer.pad_id``) to the end.

        Training (``strict=False``) reads any text and cuts long ones. A prompt
        (``strict=True``) goes through ``tokenizer.check_prompt`` first: empty is refused;
        with "words" so are an unknown word, no word or too many words; with "bpe" a long
        prompt is cut with one notice.
        """
        if strict:
            for text in texts:
                self.tokenizer.check_prompt(text, self.config.text_length, EXAMPLE_PROMPT)
        return self.tokenizer(texts, self.config.text_length, fixed=True)

    # -- AutoregressiveGenerator

    def sequence_length(self) -> int:
        return self.config.image_tokens

    def vocab_size(self) -> int:
        return self.config.codebook_size

    def example_request(self) -> dict[str, Any]:
        return {"prompt": EXAMPLE_PROMPT}

    def context(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """{"text": (B, text_length) int64 prompt tokens, "prompt": [str] * B} (for ``score``)."""
        prompt = conditions.prompt
        if prompt is None:
            raise RequestError(
                f"dalle draws from a text prompt; give one with --prompt, e.g. --prompt "
                f"'{EXAMPLE_PROMPT}'"
            )
        if conditions.negative_prompt is not None:
            raise RequestError("dalle takes no negative prompt; drop --negative-prompt")
        text = self._prompt(conditions, lambda: self.tokenize([prompt], strict=True))
        n = len(seeds)
        return {"text": text.expand(n, -1).clone(), "prompt": [prompt] * n}

    def next_logits(
        self, tokens: torch.Tensor, context: dict[str, Any], state: dict[str, Any]
    ) -> torch.Tensor:
        """Image-code logits (B, K) for position t = tokens.shape[1].

        ``state`` keeps the keys and values of every position fed so far, so each
        step feeds one token; without a matching cache the whole prefix is fed.
        """
        model = self.transformer
        text = context["text"].to(self._device())
        tokens = tokens.to(self._device())
        t_len, t = text.shape[1], tokens.shape[1]
        if t >= self.config.image_tokens:
            raise RequestError(f"an image has {self.config.image_tokens} tokens; got {t} already")
        past = state.get("past")
        if past is not None and t > 0 and state.get("length") == t_len + t - 1:
            h, past = model(tokens[:, -1:] + model.text_vocab, start=t_len + t - 1, past=past)
        else:
            h, past = model(torch.cat([text, tokens + model.text_vocab], dim=1))
        state["past"], state["length"] = past, t_len + t
        return model.image_head(h[:, -1])

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Codes (B, L) int64 -> images (B, C, S, S) in [0, 1] (the dVAE decoder on one-hots)."""
        g, k = self.config.grid, self.config.codebook_size
        tokens = torch.as_tensor(tokens, device=self._device())
        if tokens.ndim != 2 or tokens.shape[1] != g * g:
            raise RequestError(
                f"dalle decodes codes of shape (B, {g * g}); got {tuple(tokens.shape)}"
            )
        if tokens.is_floating_point() or (tokens < 0).any() or (tokens >= k).any():
            raise RequestError(f"codes must be integers in 0..{k - 1}")
        return self.dvae.decode_codes(tokens.long().view(-1, g, g))

    def score(self, images: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        """100 cos(CLIP image, CLIP prompt) per image, from the ``clip_model`` reference network."""
        prompts = context.get("prompt")
        if prompts is None or len(prompts) != len(images):
            raise RequestError("score needs the prompt of every image in context['prompt']")
        clip = self.clip_network()
        img = clip.features(clip.fit(images.float())).float()
        txt = clip.encode_text(list(prompts)).float().to(img.device)
        return 100 * F.cosine_similarity(img, txt, dim=-1)

    def component_refs(self) -> dict[str, str]:
        return {"reranker": self.config.clip_model}

    def clip_network(self) -> Any:
        """The reranking CLIP (a component the app loads; its weights stay its own)."""
        return self.component("reranker")

    # -- Autoencoder (the dVAE)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, L) int64 argmax codes in raster order."""
        x = images.to(device=self._device(), dtype=self.dvae.codebook.weight.dtype)
        return self.dvae.logits(x).argmax(1).flatten(1)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.image_tokens,)

    def random_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Codes drawn uniformly (the dVAE's prior), (n, L) int64."""
        return torch.randint(
            self.config.codebook_size, (n, self.config.image_tokens), generator=generator
        )
