"""What the CLIP-like families share (clip, noisy-clip): the word-level text tower, the
pair of towers with CLIP's learned logit scale, the prompt and text methods of the
network, the contrastive loss with the scenes' positives, and top-1 retrieval.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision"
(2021), arXiv:2103.00020: each tower maps to a shared space; after L2 normalisation the
logits of a batch are s I T^T with a learned scale s = exp(t) (init 1 / temperature,
capped at 100), and the loss is the symmetric cross-entropy of images to their captions
and captions to their images (InfoNCE, van den Oord et al. 2018).

The text tower differs from CLIP's: a pre-norm transformer reading a leading start token
with bidirectional attention (as BERT's [CLS]) instead of a causal end token. Its tokens
are CLIP's byte-level BPE learned from the training captions (``tokenizer: bpe``), or,
in the models trained first, a word vocabulary stored in the config (``tokenizer: words``;
``plugins/nn/text.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.scenes import same_scene
from zoo.plugins.nn.text import PAD, ReadsText
from zoo.plugins.nn.transformer import Block
from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.plugins.nn.clip_config import ClipTextConfig

MAX_LOGIT_SCALE = 100.0  # CLIP clips exp(t) here so training stays stable
CANDIDATES = 100  # captions a retrieval query chooses among


class TextTower(nn.Module):
    """Token ids (B, T), the start token first, padded with ``pad_id`` -> (B, D)
    unnormalised embeddings."""

    def __init__(self, config: ClipTextConfig) -> None:
        super().__init__()
        width = config.text_width
        self.token = nn.Embedding(config.text_rows, width)
        self.position = nn.Parameter(0.02 * torch.randn(config.max_tokens, width))
        self.blocks = nn.ModuleList(
            Block(width, config.text_heads) for _ in range(config.text_layers)
        )
        self.norm = nn.LayerNorm(width)
        self.project = nn.Linear(width, config.num_features, bias=False)

    def forward(self, ids: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
        keep = ids != pad_id
        h = self.token(ids) + self.position[: ids.shape[1]]
        for block in self.blocks:
            h, _ = block(h, keep=keep)
        return self.project(self.norm(h[:, 0]))  # BOS has attended to the whole text


class TowerPair(nn.Module):
    """An image tower, the text tower and the learned log logit scale t (s = exp(t)).

    The image tower is the family's; its weights are saved as ``image.*``, the text
    tower's as ``text.*``.
    """

    def __init__(self, image: nn.Module, config: ClipTextConfig) -> None:
        super().__init__()
        self.image = image
        self.text = TextTower(config)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

    def logit_scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()


class ClipTexts(ReadsText):
    """The text side of a CLIP-like reference network (mixed in before ReferenceNetwork):
    ``tokenize``, ``check_prompt``, ``text_features`` and ``encode_text`` over ``self.net``,
    a ``TowerPair``, and ``self.tokenizer``, the config's (``ReadsText``: a BPE model reads
    its tokenizer from the folder's ``tokenizer/``)."""

    config: ClipTextConfig
    net: TowerPair

    def _device(self) -> torch.device:
        return self.net.log_scale.device

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Texts -> ids (N, T) int64: the start token, the text's tokens (with "words",
        UNK for an unknown word, and a plural the vocabulary lacks read as its singular;
        with "bpe", any text, then the end token), padded to the longest; texts longer than
        ``max_tokens`` are cut.
        """
        if isinstance(texts, str):
            raise RequestError(
                "encode_text takes a list of strings, not one string; wrap it: [text]"
            )
        return self.tokenizer(texts, self.config.max_tokens).to(self._device())

    def check_prompt(self, text: str, example: str | None = None) -> None:
        """Refuse an empty prompt and, with "words", one with a word outside the vocabulary
        or more words than ``max_tokens`` - 1; with "bpe", a prompt past ``max_tokens`` is
        cut with one notice (``plugins/nn/text.py``). ``encode_text`` itself reads any text
        (unknown words as UNK), as the metrics need for a dataset's captions."""
        self.tokenizer.check_prompt(text, self.config.max_tokens, example)

    def text_features(self, texts: list[str]) -> torch.Tensor:
        """N texts -> (N, num_features) unnormalised text embeddings (what training reads)."""
        return self.net.text(self.tokenize(texts), self.tokenizer.pad_id)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """N texts -> (N, num_features) unit-length text embeddings (empty text allowed)."""
        return F.normalize(self.text_features(texts), dim=-1)


def positives(batch: dict[str, Any], n: int, device: torch.device) -> torch.Tensor:
    """(n, n) target distribution: row i spread over the captions that describe image i.

    With attribute labels, two scenes with the same attributes (a "small red dot
    on the left" and a "tiny crimson circle at the left") are a match, not a
    negative: treating them as negatives would teach the towers to tell
    synonyms apart by noise. Without labels, only the pair itself.
    """
    if "attributes" in batch:
        same = same_scene(batch["attributes"].to(device)).float()
    else:
        same = torch.eye(n, device=device)
    return same / same.sum(1, keepdim=True)


def contrastive_loss(
    net: TowerPair, image: torch.Tensor, text: torch.Tensor, p: torch.Tensor
) -> torch.Tensor:
    """(CE(s I T^T, P) + CE(s T I^T, P^T)) / 2 of unnormalised embeddings (B, D) and the
    target distribution ``p`` (B, B) from ``positives``."""
    logits = net.logit_scale() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
    return (F.cross_entropy(logits, p) + F.cross_entropy(logits.T, p.T)) / 2


def adamw(net: TowerPair, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with no weight decay on the scale, norms, biases and embeddings (as in CLIP):
    shrinking them changes what the model can say, not how smooth it is."""
    groups: dict[bool, list[nn.Parameter]] = {True: [], False: []}
    for name, p in net.named_parameters():
        embedding = name.endswith(("token.weight", "position"))
        groups[p.ndim >= 2 and not embedding].append(p)
    return torch.optim.AdamW(
        [{"params": groups[True], "weight_decay": weight_decay}, {"params": groups[False]}],
        lr=lr,
        weight_decay=0.0,
    )


def retrieval(
    image: torch.Tensor, text: torch.Tensor, attributes: torch.Tensor, seed: int = 0
) -> float:
    """Top-1 of ``CANDIDATES`` accuracy from unit embeddings (N, D) and attributes (N, K).

    For each image the candidates are its own caption and those of ``CANDIDATES`` - 1
    other scenes whose attributes differ from its own (``same_scene``; drawn without
    replacement by a generator seeded ``seed``), so exactly one candidate describes it; a
    hit is when its own caption has the highest cosine similarity.
    """
    n = len(image)
    sim = image @ text.T
    differ = ~same_scene(attributes)
    gen = torch.Generator().manual_seed(seed)
    hits = 0
    for i in range(n):
        others = differ[i].nonzero().squeeze(1)
        if len(others) < CANDIDATES - 1:
            raise ValueError(f"retrieval needs {CANDIDATES} scenes that differ; have {len(others)}")
        pick = others[torch.randperm(len(others), generator=gen)[: CANDIDATES - 1]]
        hits += int(sim[i, i] > sim[i, pick].max())
    return hits / n
