"""CLIP's text encoder as Stable Diffusion uses it, loadable from a diffusers repo's
``text_encoder/`` folder (config.json + model.safetensors) without transformers.

The text tower of CLIP (Radford et al. 2021, "Learning Transferable Visual Models From
Natural Language Supervision"): token + learned position embeddings, pre-LayerNorm
transformer blocks with causal self-attention, a final LayerNorm. SD 1.x uses OpenAI's
ViT-L/14 text tower (quick_gelu), SD 2.x OpenCLIP's ViT-H/14 (gelu, 23 layers in the
released checkpoints). Parameter names, maths and the pooled output are those of
transformers' ``CLIPTextModel``, so its checkpoints load unchanged; the text projection
of ``CLIPTextModelWithProjection`` (SDXL's second encoder) is not part of this module.

Where it differs: no dropout (inference and fine-tuning at attention_dropout 0 only), no
head masks or attention outputs; ``hidden_states(ids, skip)`` gives diffusers'
"clip skip" directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from torch import nn

from zoo.registry.errors import CardError, WeightsMismatchError, invalid_config

PREFIX = "text_model."  # CLIPTextModel's names in checkpoints; transformers 5 saves without

# the activations a CLIP text config may name (transformers' ACT2FN keys)
ACTIVATIONS = ("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish")

# keys every transformers config.json may carry that say nothing about this network
# (PretrainedConfig's attributes in transformers 4 and 5), plus the dropout and
# initialisation settings, which do not change inference
IGNORED_KEYS = frozenset(
    """
    architectures model_type transformers_version torch_dtype dtype use_bfloat16 torchscript
    return_dict output_hidden_states output_attentions chunk_size_feed_forward
    is_encoder_decoder is_decoder add_cross_attention cross_attention_hidden_size
    tie_encoder_decoder tie_word_embeddings pruned_heads problem_type id2label label2id
    num_labels finetuning_task tokenizer_class prefix task_specific_params
    sep_token_id decoder_start_token_id max_length min_length do_sample early_stopping
    num_beams num_beam_groups diversity_penalty temperature top_k top_p typical_p
    repetition_penalty length_penalty no_repeat_ngram_size encoder_no_repeat_ngram_size
    bad_words_ids num_return_sequences output_scores return_dict_in_generate
    forced_bos_token_id forced_eos_token_id remove_invalid_values
    exponential_decay_length_penalty suppress_tokens begin_suppress_tokens tf_legacy_loss
    gradient_checkpointing use_cache
    dropout attention_dropout initializer_range initializer_factor
    """.split()
)


class CLIPTextEncoderConfig(BaseModel):
    """A CLIP text tower: the keys and defaults of transformers' CLIPTextConfig
    (OpenAI ViT-B/32's text tower). Keys starting with ``_`` and the generic keys in
    ``IGNORED_KEYS`` are accepted and ignored; any other unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(default=49408, ge=1, description="token embedding rows")
    hidden_size: int = Field(default=512, ge=1, description="transformer width")
    intermediate_size: int = Field(default=2048, ge=1, description="MLP hidden width")
    projection_dim: int | None = Field(
        default=512, description="CLIP's shared embedding width (unused by the text tower)"
    )
    num_hidden_layers: int = Field(default=12, ge=1, description="transformer blocks")
    num_attention_heads: int = Field(default=8, ge=1, description="attention heads per block")
    max_position_embeddings: int = Field(
        default=77, ge=2, description="position embedding rows: the longest token sequence"
    )
    hidden_act: str = Field(
        default="quick_gelu",
        description="MLP activation: quick_gelu (SD 1.x), gelu (SD 2.x), " + ", ".join(ACTIVATIONS),
    )
    layer_norm_eps: float = Field(default=1e-5, gt=0, description="LayerNorm epsilon")
    pad_token_id: int | None = Field(default=1, description="pad id (unused by the network)")
    bos_token_id: int | None = Field(default=49406, description="start id (unused)")
    eos_token_id: int = Field(
        default=49407,
        description="end id: the pooled output is the state at its first occurrence; 2 (as in"
        " SD's configs) means the position of the largest id instead, as transformers does",
    )
    use_attention_mask: bool = Field(
        default=False,
        description="diffusers' flag: the pipeline passes the padding mask to the encoder",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_generic(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: v
                for k, v in data.items()
                if not (isinstance(k, str) and (k.startswith("_") or k in IGNORED_KEYS))
            }
        return data

    @field_validator("hidden_act")
    @classmethod
    def _activation(cls, v: str) -> str:
        if v not in ACTIVATIONS:
            raise CardError(
                f"text encoder hidden_act '{v}' is not supported; use one of {', '.join(ACTIVATIONS)}"
            )
        return v

    @field_validator("eos_token_id", mode="before")
    @classmethod
    def _one_eos(cls, v: Any) -> Any:
        if not isinstance(v, int) or isinstance(v, bool):
            raise CardError(
                f"text encoder eos_token_id {v!r} is not supported; give one integer token id"
            )
        return v

    @model_validator(mode="after")
    def _heads(self) -> CLIPTextEncoderConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_attention_heads"
                f" {self.num_attention_heads}"
            )
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> CLIPTextEncoderConfig:
        """Read a transformers ``config.json`` (e.g. a diffusers repo's text_encoder/).

        Raises:
            CardError: the file is missing, not JSON, or not a supported CLIP text config.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CardError(f"{path} is missing; the text encoder needs its config.json") from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
            raise CardError(f"{path} cannot be read as JSON ({reason}); restore it") from None
        if not isinstance(data, dict):
            raise CardError(f"{path} is not a JSON object; restore it")
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str = "text encoder config"
    ) -> CLIPTextEncoderConfig:
        """Validate a parsed config.json (a full CLIPConfig gives its ``text_config``);
        every error is a one-line ``CardError`` that starts with ``where``."""
        if isinstance(data.get("text_config"), dict):  # a full CLIPConfig: its text part
            data = data["text_config"]
        try:
            return cls.model_validate(data)
        except CardError as err:
            raise CardError(f"{where}: {err}") from None
        except ValidationError as err:
            raise invalid_config(where, err) from None


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """The MLP nonlinearity named by a CLIP config."""
    if name == "quick_gelu":  # OpenAI's approximation: x * sigmoid(1.702 x)
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu(x)
    if name in ("silu", "swish"):
        return F.silu(x)
    raise CardError(f"activation '{name}' is not supported; use one of {', '.join(ACTIVATIONS)}")


class CLIPTextEmbeddings(nn.Module):
    """Token embedding plus learned absolute position embedding."""

    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        positions = torch.arange(config.max_position_embeddings).unsqueeze(0)
        # transformers' buffer; checkpoints may or may not hold it, so it is not saved
        # and a saved copy is dropped on load (it is always arange)
        self.position_ids: torch.Tensor
        self.register_buffer("position_ids", positions, persistent=False)
        self._register_load_state_dict_pre_hook(self._drop_position_ids)

    @staticmethod
    def _drop_position_ids(state: dict[str, torch.Tensor], prefix: str, *args: Any) -> None:
        state.pop(prefix + "position_ids", None)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[-1]
        positions = self.position_ids[:, :length]
        return self.token_embedding(input_ids) + self.position_embedding(positions)


class CLIPAttention(nn.Module):
    """Multi-head self-attention: softmax(q k^T / sqrt(d_head) + mask) v."""

    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.heads = config.num_attention_heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:  # (B, N, W) -> (B, heads, N, W / heads)
            return t.view(b, n, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, width))


class CLIPMLP(nn.Module):
    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.act = config.hidden_act
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(activation(self.act, self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    """Pre-norm block: x + attn(LN1(x)), then x + mlp(LN2(x))."""

    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)]
        )


class CLIPTextTransformer(nn.Module):
    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class CLIPTextEncoder(nn.Module):
    """Token ids -> per-token states and a pooled state, as transformers' CLIPTextModel.

    State-dict names are CLIPTextModel's (``text_model.embeddings.token_embedding.weight``,
    ``text_model.encoder.layers.0.self_attn.q_proj.weight``, ...).
    """

    def __init__(self, config: CLIPTextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.text_model = CLIPTextTransformer(config)
        std = 0.02
        nn.init.normal_(self.text_model.embeddings.token_embedding.weight, std=std)
        nn.init.normal_(self.text_model.embeddings.position_embedding.weight, std=std)

    def _mask(
        self, attention_mask: torch.Tensor | None, n: int, dtype: torch.dtype
    ) -> torch.Tensor | None:
        """None (causal only, the usual case) or an additive (B, 1, N, N) mask that is
        causal and hides the padding keys (``attention_mask`` 0)."""
        if attention_mask is None:
            return None
        device = attention_mask.device
        causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
        mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)

    def _run(
        self, input_ids: torch.Tensor, layers: int, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Embeddings through the first ``layers`` blocks, before the final LayerNorm."""
        n = input_ids.shape[-1]
        limit = self.config.max_position_embeddings
        if n > limit:
            raise ValueError(f"{n} tokens is more than the text encoder's {limit} positions")
        x = self.text_model.embeddings(input_ids)
        mask = self._mask(attention_mask, n, x.dtype)
        for block in self.text_model.encoder.layers[:layers]:
            x = block(x, mask)
        return x

    def eos_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B,) index of the token the pooled output is read at, as transformers picks it:
        configs with eos_token_id 2 (SD 1.x and 2.x) predate transformers' fix and take
        the largest id (the end token is CLIP's largest); others take the first end token
        (position 0 when a row has none)."""
        ids = input_ids.to(torch.int)
        if self.config.eos_token_id == 2:
            return ids.argmax(dim=-1)
        return (ids == self.config.eos_token_id).int().argmax(dim=-1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode token ids.

        Args:
            input_ids: (B, N) int64 ids, N <= max_position_embeddings.
            attention_mask: optional (B, N) 1 for tokens, 0 for padding; only diffusers
                pipelines whose config sets ``use_attention_mask`` pass it. The states
                up to the end token do not depend on it (attention is causal).

        Returns:
            (last_hidden_state, pooled): (B, N, hidden) after the final LayerNorm, and
            (B, hidden), the state at ``eos_positions``.
        """
        x = self._run(input_ids, self.config.num_hidden_layers, attention_mask)
        last = self.text_model.final_layer_norm(x)
        pooled = last[
            torch.arange(last.shape[0], device=last.device), self.eos_positions(input_ids)
        ]
        return last, pooled

    def hidden_states(
        self, input_ids: torch.Tensor, skip: int = 0, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The states Stable Diffusion conditions on with "clip skip": the output of the
        block ``skip`` before the last, through the final LayerNorm; (B, N, hidden).

        ``skip`` is diffusers' ``clip_skip`` (``hidden_states[-(skip + 1)]`` then
        ``final_layer_norm``): 0 is ``last_hidden_state``, 1 the penultimate block
        (what some UIs call "clip skip 2"). diffusers applies it to the prompt only;
        the negative prompt's states are always the last layer's.
        """
        layers = self.config.num_hidden_layers
        if not 0 <= skip < layers:
            raise ValueError(f"clip skip {skip} must be between 0 and {layers - 1}")
        x = self._run(input_ids, layers - skip, attention_mask)
        return self.text_model.final_layer_norm(x)

    def load_state(self, state: Mapping[str, torch.Tensor], where: str = "text encoder") -> None:
        """Load CLIPTextModel weights strictly, with one-line errors that name the tensor.

        Names may start with ``text_model.`` (Stable Diffusion's files, transformers 4)
        or not (files saved by transformers 5); ``text_model.embeddings.position_ids``
        may be present or not. Float weights of another precision are cast to this
        module's.

        Raises:
            WeightsMismatchError: a tensor is missing, unexpected or of the wrong shape.
        """
        expected = self.state_dict()
        given = {
            k if k.startswith(PREFIX) else PREFIX + k: v
            for k, v in state.items()
            if not k.endswith("embeddings.position_ids")
        }
        missing = sorted(set(expected) - set(given))
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise WeightsMismatchError(
                f"{where}: tensor '{missing[0]}'{more} missing from the weights; they are not"
                " a CLIPTextModel's, or belong to another variant"
            )
        unexpected = sorted(set(given) - set(expected))
        if unexpected:
            more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
            raise WeightsMismatchError(
                f"{where}: unexpected tensor '{unexpected[0]}'{more} in the weights; they are"
                " not a CLIPTextModel's (a model with a text projection?)"
            )
        for key, tensor in expected.items():
            if tuple(given[key].shape) != tuple(tensor.shape):
                raise WeightsMismatchError(
                    f"{where}: tensor '{key}' has shape {tuple(given[key].shape)} but the config"
                    f" gives {tuple(tensor.shape)}; the config and weights do not match"
                )
            if not given[key].is_floating_point():
                raise WeightsMismatchError(
                    f"{where}: tensor '{key}' is {given[key].dtype}, not floating point; the"
                    " weights are corrupt or not a text encoder's"
                )
        self.load_state_dict(dict(given), strict=True)


__all__ = ["ACTIVATIONS", "CLIPTextEncoder", "CLIPTextEncoderConfig", "activation"]
