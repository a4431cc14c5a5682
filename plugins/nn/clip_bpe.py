"""CLIP's byte-level BPE tokenizer, read from a Hub ``tokenizer/`` folder (vocab.json,
merges.txt, tokenizer_config.json, special_tokens_map.json), and a small learner that
writes such a folder.

The tokenizer of OpenAI's CLIP (Radford et al. 2021, "Learning Transferable Visual
Models From Natural Language Supervision") as Stable Diffusion uses it, giving the ids
of transformers' ``CLIPTokenizer`` (version 5, backed by the tokenizers library):

1. special tokens written literally in the text (``<|startoftext|>``, ``<|endoftext|>``)
   are cut out first and map to their ids;
2. the rest is normalised: Unicode NFC, every run of whitespace one space, lower case
   (character by character: a final capital sigma becomes "σ", not "ς");
3. pre-tokenised into words: the contractions 's 't 're 've 'm 'll 'd, runs of letters,
   single digits, runs of anything else but whitespace (whitespace is dropped); a
   ``<|startoftext|>`` or ``<|endoftext|>`` still in the text (in other case, or when it
   is not a special token) is three words, ``<|``, the name and ``|>``;
4. each word's UTF-8 bytes become printable characters (``bytes_to_unicode``), its last
   symbol gets the end-of-word marker ``</w>``, and BPE merges adjacent symbols, lowest
   merge rank first, until none applies.

This is transformers' behaviour without ftfy: the older pure-Python CLIPTokenizer
(transformers < 5) ran ftfy.fix_text when ftfy was installed, and otherwise a BERT
basic tokenizer that also split CJK characters apart; neither is done here. Letters and
digits are Unicode categories L* and N* as Python's ``unicodedata`` knows them;
characters assigned in later Unicode versions count as punctuation.

No torch at import; ``__call__`` imports it to return a tensor.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import CardError

if TYPE_CHECKING:
    import torch

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"
MERGES_HEADER = "#version: 0.2"
CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")  # after an apostrophe, tried in order
BYTE_TOKENS = 514  # a learned vocabulary's tokens besides its merges: 256 bytes, their </w>
# forms, the start and the end token

# Unicode White_Space: what the tokenizers library's regex \s matches. Python's
# str.isspace() also counts U+001C..U+001F, which CLIP keeps as punctuation.
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """Each byte -> one printable character, so BPE symbols never hold whitespace or
    control characters: printable Latin-1 bytes map to themselves, the other 68 bytes to
    U+0100 onwards in byte order. The dict's order is the vocabulary's first 256 ids."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def normalize(text: str) -> str:
    """NFC, whitespace runs to one space, lower case character by character."""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    space = False
    for ch in text:
        if ch in WHITESPACE:
            if not space:
                out.append(" ")
            space = True
        else:
            out.append(ch)
            space = False
    # str.lower() applies the final-sigma rule (Σ -> ς at a word's end); CLIP does not
    return "".join(out).replace("Σ", "σ").lower()


def _kind(ch: str) -> str:
    """'S' whitespace, 'L' letter, 'N' number, 'P' anything else."""
    if ch in WHITESPACE:
        return "S"
    major = unicodedata.category(ch)[0]
    return major if major in ("L", "N") else "P"


def pre_tokenize(text: str) -> list[str]:
    """Split normalised text into CLIP's words (see the module docstring, step 3)."""
    words: list[str] = []
    kinds = [_kind(ch) for ch in text]
    i, n = 0, len(text)
    while i < n:
        kind = kinds[i]
        if kind == "S":
            i += 1
            continue
        literal = next((t for t in (BOS_TOKEN, EOS_TOKEN) if text.startswith(t, i)), None)
        if literal is not None:  # kept whole by the first split, cut by the byte-level one
            words += [literal[:2], literal[2:-2], literal[-2:]]
            i += len(literal)
            continue
        if text[i] == "'":
            tail = next((c for c in CONTRACTIONS if text.startswith(c, i + 1)), None)
            if tail is not None:
                words.append("'" + tail)
                i += 1 + len(tail)
                continue
        if kind == "N":
            words.append(text[i])
            i += 1
            continue
        j = i + 1
        while j < n and kinds[j] == kind:
            j += 1
        words.append(text[i:j])
        i = j
    return words


def byte_symbols(word: str) -> list[str]:
    """A word's initial BPE symbols: one per UTF-8 byte, the last marked with </w>
    (a lone surrogate, which UTF-8 cannot hold, gives its three surrogate bytes)."""
    table = bytes_to_unicode()
    symbols = [table[b] for b in word.encode("utf-8", "surrogatepass")]
    symbols[-1] += END_OF_WORD
    return symbols


def _merge_pair(symbols: list[str], first: str, second: str) -> list[str]:
    """Merge every non-overlapping occurrence of (first, second), left to right."""
    out: list[str] = []
    i, n = 0, len(symbols)
    while i < n:
        if i + 1 < n and symbols[i] == first and symbols[i + 1] == second:
            out.append(first + second)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _token_text(value: Any, key: str, where: Path) -> str:
    """A special token from a tokenizer config: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    if not isinstance(value, str) or not value:
        raise CardError(f"{where}: '{key}' is not a token string; fix or remove it")
    return value


def _is_normalized(value: Any, from_map: bool) -> bool:
    """Whether transformers matches a special token in normalised text (True) or in the
    raw text (False): a plain string is raw; a dict says so, or defaults as transformers
    reads that file (special_tokens_map.json: raw; tokenizer_config.json: not special)."""
    if not isinstance(value, dict):
        return False
    if "normalized" in value:
        return bool(value["normalized"])
    return False if from_map else not value.get("special", False)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise CardError(f"{path} cannot be read as JSON ({reason}); restore the file") from None
    if not isinstance(data, dict):
        raise CardError(f"{path} is not a JSON object; restore the file")
    return data


ROLES = ("bos_token", "eos_token", "unk_token", "pad_token")  # transformers' order


class CLIPBPETokenizer:
    """Texts -> CLIP token ids, as transformers' CLIPTokenizer gives them.

    Args:
        vocab: token -> id; must hold the start, end and pad tokens.
        merges: BPE merges, highest priority first.
        pad_token: pads batches: ``<|endoftext|>`` in SD 1.x, ``!`` in SD 2.x.
        model_max_length: default length of a batch row (77 for every CLIP).
        bos_token, eos_token: open and close every row.
        unk_token: stands for a symbol missing from the vocabulary (never, when the
            vocabulary holds all 256 byte symbols and their ``</w>`` forms).
        added: the special tokens written text may contain -> whether they are found in
            the normalised text (True: case-insensitively) rather than the raw text.
            Defaults to the four tokens above, raw, as transformers makes them from
            plain strings. Note that a pad token "!" is then one too: "hi!" ends in
            the id of "!", not of "!</w>".
    """

    def __init__(
        self,
        vocab: dict[str, int],
        merges: Sequence[tuple[str, str]],
        pad_token: str = EOS_TOKEN,
        model_max_length: int = 77,
        bos_token: str = BOS_TOKEN,
        eos_token: str = EOS_TOKEN,
        unk_token: str = EOS_TOKEN,
        added: dict[str, bool] | None = None,
    ) -> None:
        for role, token in (("start", bos_token), ("end", eos_token), ("pad", pad_token)):
            if token not in vocab:
                raise CardError(
                    f"the {role} token {token!r} is not in the vocabulary; the tokenizer"
                    " files do not belong together"
                )
        if model_max_length < 2:
            raise CardError(f"model_max_length {model_max_length} is below 2; fix the config")
        self.vocab = dict(vocab)
        self.ranks: dict[tuple[str, str], int] = {}
        for rank, (first, second) in enumerate(merges):
            for symbol in (first, second, first + second):
                if symbol not in self.vocab:
                    raise CardError(
                        f"merge {rank + 1} ({first} {second}) uses {symbol!r}, which is not in"
                        " the vocabulary; the tokenizer files do not belong together"
                    )
            self.ranks.setdefault((first, second), rank)
        self.bos_token, self.eos_token, self.pad_token = bos_token, eos_token, pad_token
        self.bos_id, self.eos_id, self.pad_id = vocab[bos_token], vocab[eos_token], vocab[pad_token]
        self.unk_id = vocab.get(unk_token, self.eos_id)
        self.model_max_length = model_max_length
        if added is None:
            added = dict.fromkeys((bos_token, eos_token, unk_token, pad_token), False)
        self.added = {t: n for t, n in added.items() if t in vocab}
        # longest first: at one place the longest special token wins
        by_length = sorted(self.added, key=len, reverse=True)
        self._raw_specials = [t for t in by_length if not self.added[t]]
        self._normalized_specials = [t for t in by_length if self.added[t]]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_folder(cls, folder: str | Path) -> CLIPBPETokenizer:
        """Read a Hub ``tokenizer/`` folder: vocab.json and merges.txt (or, without them,
        the tokenizers library's tokenizer.json), and the optional
        tokenizer_config.json / special_tokens_map.json for the special tokens and
        model_max_length, read as transformers reads them (special_tokens_map.json
        overrides the config's tokens unless the config lists ``added_tokens_decoder``).
        """
        folder = Path(folder)
        fast = folder / "tokenizer.json"
        fast_added: list[Any] = []
        if not (folder / "vocab.json").is_file() and fast.is_file():
            # only the tokenizers library's file (what transformers 5 saves): the same
            # vocabulary and merges, with the added tokens' flags
            data = _read_json(fast)
            model = data.get("model") if isinstance(data.get("model"), dict) else {}
            vocab, raw_merges = model.get("vocab"), model.get("merges")
            if (
                model.get("type") != "BPE"
                or not isinstance(vocab, dict)
                or not isinstance(raw_merges, list)
            ):
                raise CardError(f"{fast} holds no BPE vocabulary and merges")
            merges = []
            for m in raw_merges:
                pair = m.split(" ") if isinstance(m, str) else m
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise CardError(f"{fast}: merge {str(m)[:40]!r} is not a pair")
                merges.append((str(pair[0]), str(pair[1])))
            fast_added = data.get("added_tokens") or []
        else:
            for name in ("vocab.json", "merges.txt"):
                if not (folder / name).is_file():
                    raise CardError(f"{folder} has no {name}; it is not a CLIP tokenizer folder")
            vocab = _read_json(folder / "vocab.json")
            merges = read_merges(folder / "merges.txt")
        if not all(type(i) is int for i in vocab.values()):
            raise CardError(f"{folder}: the vocabulary must map tokens to integer ids")
        config_path, map_path = folder / "tokenizer_config.json", folder / "special_tokens_map.json"
        config = _read_json(config_path) if config_path.is_file() else {}
        tokens: dict[str, tuple[Any, bool, Path]] = {
            role: (config[role], False, config_path) for role in ROLES if config.get(role)
        }
        decoder = config.get("added_tokens_decoder")
        if decoder is None and fast_added:
            decoder = {str(e.get("id")): e for e in fast_added if isinstance(e, dict)}
        added: dict[str, bool] = {}
        if isinstance(decoder, dict):
            for entry in decoder.values():
                content = _token_text(entry, "added_tokens_decoder", config_path)
                added[content] = _is_normalized(entry, from_map=False)
        elif map_path.is_file():
            special_map = _read_json(map_path)
            tokens |= {
                role: (special_map[role], True, map_path) for role in ROLES if special_map.get(role)
            }
        defaults = dict(zip(ROLES, (BOS_TOKEN, EOS_TOKEN, EOS_TOKEN, EOS_TOKEN), strict=True))
        names: dict[str, str] = {}
        for role in ROLES:  # a token named by two roles takes the later role's flag
            if role not in tokens:
                names[role] = defaults[role]
                added.setdefault(names[role], False)
                continue
            value, from_map, where = tokens[role]
            names[role] = _token_text(value, role, where)
            if not isinstance(decoder, dict) or names[role] not in added:
                added[names[role]] = _is_normalized(value, from_map)
        length = config.get("model_max_length", 77)
        if isinstance(length, float) and length.is_integer():
            length = int(length)
        if type(length) is not int:
            raise CardError(f"{config_path}: model_max_length {length!r} is not an integer")
        return cls(
            vocab,
            merges,
            pad_token=names["pad_token"],
            model_max_length=length,
            bos_token=names["bos_token"],
            eos_token=names["eos_token"],
            unk_token=names["unk_token"],
            added=added,
        )

    def save(self, folder: str | Path) -> Path:
        """Write this vocabulary as a Hub ``tokenizer/`` folder (see ``write_tokenizer``)."""
        merges = [pair for pair, _ in sorted(self.ranks.items(), key=lambda kv: kv[1])]
        return write_tokenizer(folder, self.vocab, merges, self.pad_token, self.model_max_length)

    def bpe(self, word: str) -> list[str]:
        """One pre-tokenised word -> its BPE symbols (the lowest-ranked pair merges first)."""
        symbols = byte_symbols(word)
        ranks = self.ranks
        while len(symbols) > 1:
            pairs = zip(symbols, symbols[1:], strict=False)
            best = min(pairs, key=lambda p: ranks.get(p, len(ranks)))
            if best not in ranks:
                break
            symbols = _merge_pair(symbols, *best)
        return symbols

    def _word_ids(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is None:
            ids = [self.vocab.get(s, self.unk_id) for s in self.bpe(word)]
            if len(self._cache) < 100_000:
                self._cache[word] = ids
        return ids

    @staticmethod
    def _segments(text: str, specials: list[str]) -> Iterable[tuple[str, bool]]:
        """(piece, is_special): ``text`` cut at the ``specials`` written in it."""
        start = i = 0
        while specials and i < len(text):
            hit = next((t for t in specials if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                yield text[start:i], False
            yield hit, True
            i += len(hit)
            start = i
        if start < len(text):
            yield text[start:], False

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without the start and end tokens; any string works."""
        ids: list[int] = []
        for piece, special in self._segments(text, self._raw_specials):
            if special:
                ids.append(self.vocab[piece])
                continue
            for part, special in self._segments(normalize(piece), self._normalized_specials):
                if special:
                    ids.append(self.vocab[part])
                    continue
                for word in pre_tokenize(part):
                    ids.extend(self._word_ids(word))
        return ids

    def __call__(self, texts: str | Sequence[str], max_length: int | None = None) -> torch.Tensor:
        """Texts -> (B, max_length) int64 ids: start token, the text's tokens (cut to fit),
        end token, then the pad token to the right.

        ``max_length`` defaults to ``model_max_length`` (77).
        """
        import torch

        length = self.model_max_length if max_length is None else max_length
        if length < 2:
            raise ValueError(f"max_length {length} leaves no room for the start and end tokens")
        if isinstance(texts, str):
            texts = [texts]
        rows = []
        for text in texts:
            row = [self.bos_id, *self.encode(text)[: length - 2], self.eos_id]
            rows.append(row + [self.pad_id] * (length - len(row)))
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), length)

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Ids -> text, as transformers decodes: the tokens' bytes as UTF-8 (bad bytes
        replaced), each ``</w>`` a space, stripped. Special tokens (start, end, pad, and
        any other added token) are dropped unless ``skip_special`` is False; unknown ids
        are dropped."""
        inverse = {i: t for t, i in self.vocab.items()}
        from_char = {c: b for b, c in bytes_to_unicode().items()}
        out = bytearray()
        for i in ids:
            token = inverse.get(int(i))
            if token is None or (skip_special and token in self.added):
                continue
            for ch in token:
                byte = from_char.get(ch)
                out += ch.encode("utf-8") if byte is None else bytes((byte,))
        return out.decode("utf-8", errors="replace").replace(END_OF_WORD, " ").strip()


def read_merges(path: Path) -> list[tuple[str, str]]:
    """merges.txt: an optional '#version' line, then one 'first second' pair per line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise CardError(f"{path} cannot be read ({err}); restore the file") from None
    merges: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if (number == 1 and line.startswith("#version")) or not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise CardError(f"{path} line {number} is not two symbols ({line[:60]!r})")
        merges.append((parts[0], parts[1]))
    return merges


# -- learning a vocabulary ---------------------------------------------------------------


def build_clip_vocab(
    texts: Iterable[str], num_merges: int
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn a CLIP-format BPE vocabulary from ``texts``.

    Ids follow CLIP's layout: the 256 byte symbols in ``bytes_to_unicode`` order, their
    ``</w>`` forms, one token per learned merge (the most frequent adjacent pair first,
    ties to the smaller pair), then ``<|startoftext|>`` and ``<|endoftext|>``. Stops
    early when no pair is left to merge.

    Returns:
        (vocab, merges): token -> id, and the merges in rank order.
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pre_tokenize(normalize(text)))
    words = [byte_symbols(w) for w in counts]
    freq = list(counts.values())
    pairs: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for index, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:], strict=False):
            pairs[pair] += freq[index]
            where[pair].add(index)

    byte_chars = list(bytes_to_unicode().values())
    tokens = byte_chars + [c + END_OF_WORD for c in byte_chars]
    known = set(tokens)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        live = [(p, c) for p, c in pairs.items() if c > 0]
        if not live:
            break
        best = min(live, key=lambda pc: (-pc[1], pc[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
        for index in sorted(where.pop(best, set())):
            old = words[index]
            for pair in zip(old, old[1:], strict=False):
                pairs[pair] -= freq[index]
            new = _merge_pair(old, *best)
            words[index] = new
            for pair in zip(new, new[1:], strict=False):
                pairs[pair] += freq[index]
                where[pair].add(index)
        del pairs[best]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    return {t: i for i, t in enumerate(tokens)}, merges


def write_tokenizer(
    folder: str | Path,
    vocab: dict[str, int],
    merges: Sequence[tuple[str, str]],
    pad_token: str = EOS_TOKEN,
    model_max_length: int = 77,
) -> Path:
    """Write a Hub-layout ``tokenizer/`` folder that CLIPBPETokenizer.from_folder and
    transformers' CLIPTokenizer.from_pretrained both read. Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if pad_token not in vocab:
        raise CardError(f"pad token {pad_token!r} is not in the vocabulary; choose one that is")
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    (folder / "vocab.json").write_text(json.dumps(ordered, ensure_ascii=False), encoding="utf-8")
    lines = [MERGES_HEADER, *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def added(token: str, typed: bool) -> dict[str, Any]:
        entry = {"__type": "AddedToken"} if typed else {}
        flags = {"lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
        return {**entry, "content": token, **flags}

    # the layout of Stable Diffusion's tokenizer folders: start, end and unknown tokens
    # found case-insensitively, the pad token in the raw text (transformers' reading)
    specials = {
        "bos_token": added(BOS_TOKEN, False),
        "eos_token": added(EOS_TOKEN, False),
        "pad_token": pad_token,
        "unk_token": added(EOS_TOKEN, False),
    }
    config = {
        "add_prefix_space": False,
        "bos_token": added(BOS_TOKEN, True),
        "do_lower_case": True,
        "eos_token": added(EOS_TOKEN, True),
        "errors": "replace",
        "model_max_length": model_max_length,
        "pad_token": pad_token,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": added(EOS_TOKEN, True),
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder
