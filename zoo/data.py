"""Loading a dataset split by name: a registered dataset, or ``NAME:PATH`` for a dataset
that reads a path (``folder:PATH``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError
from zoo.registry.schemas import DatasetSpec

if TYPE_CHECKING:
    from zoo.registry.contracts import DataNeeds


def _spec(name: str) -> tuple[DatasetSpec, str | None]:
    """The dataset spec of ``name`` and its path (``NAME:PATH``), checked."""
    base, colon, path = name.partition(":")
    spec = get_registry().dataset(base if colon else name)
    if colon and not spec.takes_path:
        raise RequestError(f"dataset '{base}' takes no path; use --data {base}")
    if not colon and spec.takes_path:
        raise RequestError(f"dataset '{name}' reads your files: use --data {name}:PATH")
    if colon and not path:
        raise RequestError(f"--data {name} names no path; use {base}:PATH")
    return spec, path if colon else None


def load_split(name: str, split: str = "train", image_size: int | None = None) -> dict[str, Any]:
    """The split of a dataset as a dict of tensors (and lists, e.g. captions).

    ``folder:PATH`` reads a folder of images (with optional same-name .txt
    captions); any other name is looked up in the registry (`zoo datasets`).
    """
    kwargs: dict[str, Any] = {"split": split}
    if image_size is not None:
        kwargs["image_size"] = image_size
    spec, path = _spec(name)
    loader = load_object(spec.loader)
    return loader(path, **kwargs) if path is not None else loader(**kwargs)


def check_name(name: str) -> None:
    """Fail early (before torch) on an unknown dataset name."""
    _spec(name)


def check_fit(needs: DataNeeds, split: dict[str, Any], family: str, data: str) -> None:
    """Raise RequestError naming everything in ``split`` that does not fit ``needs``.

    Called by ``zoo train`` once, after the dataset is loaded and before the first step,
    so a family trained on the wrong dataset fails with one line instead of deep inside
    its recipe.
    """
    has = ", ".join(split) or "nothing"
    problems: list[str] = []
    missing = [k for k in needs.images if k not in split]
    missing += [k for k in (*needs.labels, *needs.keys) if k not in split and k not in missing]
    if needs.captions and "caption" not in split:
        missing.append("caption")
    if missing:
        problems.append(f"it has no {', '.join(repr(k) for k in missing)} (it gives {has})")
    for key, channels in needs.images.items():
        shape = tuple(getattr(split.get(key), "shape", ()))
        if key not in split:
            continue
        if len(shape) != 4:
            problems.append(f"its '{key}' is not a batch of images (shape {shape})")
            continue
        if channels is not None and shape[1] != channels:
            problems.append(
                f"its '{key}' has {_count(shape[1], 'channel')} where the config has {channels}"
                + _set_hint(needs, key, shape[1])
            )
        if needs.image_size is not None and shape[2:] != (needs.image_size, needs.image_size):
            problems.append(
                f"its '{key}' is {shape[3]}x{shape[2]} where the config has "
                f"{needs.image_size}x{needs.image_size}"
            )
    for key, classes in needs.labels.items():
        if key not in split or not len(split[key]):
            continue
        low, high = int(split[key].min()), int(split[key].max())
        if low < 0 or high >= classes:
            problems.append(
                f"its '{key}' runs {low}..{high} where the config has {classes} classes"
                + (_set_hint(needs, key, high + 1) if low >= 0 else "")
            )
    if needs.captions and "caption" in split:
        bad = next((c for c in split["caption"] if not isinstance(c, str)), None)
        if bad is not None or not any(split["caption"]):
            problems.append("its captions are empty or not text")
    if problems:
        fix = (
            "choose a dataset that has them (zoo datasets)"
            if missing
            else "choose another dataset or --set the config to fit it"
        )
        raise RequestError(f"dataset '{data}' does not fit {family}: {'; '.join(problems)}; {fix}")


def _set_hint(needs: DataNeeds, key: str, value: int) -> str:
    name = needs.config_fields.get(key)
    return f" (--set {name}={value} fits it)" if name else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
