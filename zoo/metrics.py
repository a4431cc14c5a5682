"""Image-generation metrics on tensors, computed offline with the zoo's reference networks.

Inception-v3 and OpenAI's CLIP are not available offline, so the zoo trains its
own reference networks (``classifier-<dataset>``, ``clip-<dataset>``) and the
metrics read their features, logits and embeddings instead. Figures are
therefore comparable only between models scored by the same reference network
(the card says which), never with published Inception-based numbers.

- FID (Heusel et al. 2017, arXiv:1706.08500): Frechet distance between Gaussians
  fitted to real and generated features,
  ``||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``. Lower is better.
- IS (Salimans et al. 2016, arXiv:1606.03498): ``exp(E_x KL(p(y|x) || p(y)))``
  from class logits, averaged over splits. Higher is better; at most K.
- KID (Binkowski et al. 2018, arXiv:1801.01401): unbiased MMD^2 with the cubic
  polynomial kernel, averaged over random subsets. Lower is better; ~0 for one
  distribution.
- Precision and recall (Kynkaanniemi et al. 2019, arXiv:1904.06991): the share
  of generated samples inside the real manifold (precision, fidelity) and of
  real samples inside the generated manifold (recall, diversity); a manifold is
  the union of balls around each sample reaching its k-th nearest neighbour.
- SSIM (Wang et al. 2004) and PSNR between paired images.
- CLIP score (Hessel et al. 2021, arXiv:2104.08718): mean of
  ``max(100 cos(image, text), 0)``.
- Prompt accuracy: the share of images whose attributes, as a classifier reads
  them, agree with every attribute the prompt names.

FID, IS, KID, SSIM and PSNR are torchmetrics' implementations. The statistics
metrics take features computed once per image set (``extract``), so one pass of
the reference network serves every metric and both reference rows; torchmetrics
receives them through ``Passthrough``. ``ReferenceFeatures`` wraps a reference
network as a torchmetrics feature module for those who want to feed images.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    from zoo.registry.contracts import ReferenceNetwork

METRIC_SEED = 0  # the random subsets of KID and the splits of IS


class Passthrough(nn.Module):
    """A torchmetrics feature module for features computed beforehand: the identity.

    ``num_features`` tells torchmetrics the width, so it does not probe the
    module with a 299x299 image.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ReferenceFeatures(nn.Module):
    """A reference network as a torchmetrics feature module.

    ``FrechetInceptionDistance(feature=ReferenceFeatures(net), normalize=True,
    reset_real_features=False)`` then takes images (B, C, H, W) in [0, 1] at the
    network's size. ``output="logits"`` gives the class logits, for
    ``InceptionScore`` (pass ``normalize=False`` there: with True, torchmetrics
    turns images into uint8 before any feature module, custom or not).
    Note that ``reset()`` on a FID or KID built without
    ``reset_real_features=False`` clears the real statistics too.
    """

    def __init__(
        self, network: ReferenceNetwork, output: Literal["features", "logits"] = "features"
    ) -> None:
        super().__init__()
        self.network = network  # not an nn.Module: its parts are inside it
        self.output = output
        if output == "features":
            self.num_features = int(network.num_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.output == "features":
                return self.network.features(images).float()
            logits = self.network.logits(images)
            if logits is None:
                raise RequestError(
                    f"reference network '{self.network.family}' has no class logits; "
                    "it cannot score IS"
                )
            return logits.float()


def extract(
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    *,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "features",
) -> torch.Tensor:
    """Run ``fn`` over images in batches, without gradients.

    Args:
        fn: a feature module (e.g. ``ReferenceFeatures(net)``) or a network method.
        images: (N, C, H, W) in [0, 1] at the network's size.
        batch_size: images per forward pass.
        progress: a progress bar on stderr (shown from 4 batches on).

    Returns:
        (N, ...) on the CPU, float32 unless ``fn`` gives integers.
    """
    from tqdm import tqdm

    out = []
    steps = range(0, len(images), batch_size)
    quiet = not progress or len(steps) < 4
    bar = tqdm(steps, desc=desc, unit="batch", disable=quiet, file=sys.stderr, leave=False)
    with torch.no_grad():
        for i in bar:
            y = fn(images[i : i + batch_size]).detach().cpu()
            out.append(y if not y.is_floating_point() else y.float())
    return torch.cat(out)


# -- distribution metrics (torchmetrics) ---------------------------------------------------


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the thread count.

    The statistics are many small operations; on a busy 2-core machine two
    threads made KID on 500 x 32 features 30x slower (8.8 s against 0.3 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """torchmetrics draws subsets with the global generator: seed it, then restore it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence torchmetrics' warning that IS and KID keep every feature (ours are small)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        warnings.filterwarnings("ignore", message=".*degrees of freedom is <= 0.*")
        yield


def _check_features(real: torch.Tensor, fake: torch.Tensor, least: int = 2) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise RequestError(
            f"features must be (N, D) with the same D; got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if min(len(real), len(fake)) < least:
        raise RequestError(
            f"need at least {least} images on each side; got {len(real)} real and {len(fake)} generated"
        )


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets.

    Args:
        real: (N, D) features of real images.
        fake: (M, D) features of generated images.

    Returns:
        FID >= 0 (up to rounding); 0 for identical statistics.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_features(real, fake)
    # A fresh metric per pair: the features are precomputed, so this costs nothing,
    # and no reset() can clear the real statistics by accident.
    metric = FrechetInceptionDistance(
        feature=Passthrough(real.shape[1]), normalize=True, reset_real_features=False
    )
    with one_thread():
        metric.update(real.double(), real=True)
        metric.update(fake.double(), real=False)
        return float(metric.compute())


def inception_score(
    logits: torch.Tensor, splits: int = 1, seed: int = METRIC_SEED
) -> tuple[float, float]:
    """Inception Score of class logits, torchmetrics' estimate over ``splits`` groups.

    The logits are shuffled (seeded) and cut into ``splits`` equal groups; the
    ``N mod splits`` left over are dropped, so no group is tiny (a group of one
    image scores 1).

    Args:
        logits: (N, K) unnormalised class logits of generated images.
        splits: number of groups (10 in the paper, of 5,000 images each).
        seed: seed of the shuffle.

    Returns:
        (mean, standard deviation over splits); the mean lies in [1, K].
    """
    from torchmetrics.image.inception import InceptionScore

    if logits.ndim != 2 or len(logits) < 2:
        raise RequestError(f"IS needs logits (N, K) with N >= 2, got {tuple(logits.shape)}")
    if not 1 <= splits <= len(logits):
        raise RequestError(f"IS splits must lie in 1..{len(logits)}, got {splits}")
    with _seeded(seed):
        keep = torch.randperm(len(logits))[: splits * (len(logits) // splits)]
    with _quiet():
        metric = InceptionScore(feature=Passthrough(logits.shape[1]), splits=splits)
    metric.update(logits[keep].double())
    with one_thread(), _seeded(seed), _quiet():  # one split: torchmetrics' std warns
        mean, std = metric.compute()
    return float(mean), float(std) if splits > 1 else 0.0


def kid(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = METRIC_SEED,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2, cubic kernel, over random subsets.

    Args:
        real: (N, D) features of real images.
        fake: (M, D) features of generated images.
        subsets: number of random subsets.
        subset_size: images per subset, reduced to ``min(N, M)`` when larger (one
            subset then, if N == M: every subset would be both whole sets).
        seed: seed of the subsets.

    Returns:
        (mean, standard deviation over subsets); the mean is ~0 (it can be
        slightly negative) for samples of one distribution.
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    _check_features(real, fake)
    size = min(subset_size, len(real), len(fake))
    if size == len(real) == len(fake):
        subsets = 1  # every subset would be the whole of both sets
    with _quiet():
        metric = KernelInceptionDistance(
            feature=Passthrough(real.shape[1]),
            subsets=subsets,
            subset_size=size,
            reset_real_features=False,
            normalize=True,
        )
    with one_thread(), _seeded(seed):
        metric.update(real.double(), real=True)
        metric.update(fake.double(), real=False)
        mean, std = metric.compute()
    return float(mean), float(std)


# -- precision and recall (k-NN manifolds, by hand) -----------------------------------------

_CHUNK = 1024  # rows of a distance matrix computed at once


def knn_radii(features: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded).

    Args:
        features: (N, D), N > k.

    Returns:
        (N,) float64 radii >= 0.
    """
    if not 1 <= k < len(features):
        raise RequestError(f"k must lie in 1..{len(features) - 1} for {len(features)} samples")
    x = features.double()
    radii = []
    for i in range(0, len(x), _CHUNK):
        d = torch.cdist(x[i : i + _CHUNK], x)
        # the k+1 smallest include the sample itself at distance 0
        radii.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def inside_manifold(points: torch.Tensor, manifold: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of ``points`` (P, D) inside any ball of ``manifold`` (M, D) with ``radii`` (M,)."""
    p, m = points.double(), manifold.double()
    hits = 0
    for i in range(0, len(p), _CHUNK):
        d = torch.cdist(p[i : i + _CHUNK], m)
        hits += int((d <= radii[None]).any(dim=1).sum())
    return hits / len(p)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) on features.

    Precision: share of generated samples within the k-NN manifold of the real
    ones. Recall: share of real samples within the k-NN manifold of the
    generated ones.

    Args:
        real: (N, D) features of real images, N > k.
        fake: (M, D) features of generated images, M > k.
        k: neighbour that sets each ball's radius (3 in the paper).

    Returns:
        (precision, recall), each in [0, 1].
    """
    _check_features(real, fake, least=k + 1)
    with one_thread():
        precision = inside_manifold(fake, real, knn_radii(real, k))
        recall = inside_manifold(real, fake, knn_radii(fake, k))
    return precision, recall


# -- paired images and prompts -----------------------------------------------------------


def _check_pairs(preds: torch.Tensor, target: torch.Tensor) -> None:
    if preds.shape != target.shape or preds.ndim != 4:
        raise RequestError(
            f"paired images must share one (N, C, H, W) shape; got {tuple(preds.shape)} "
            f"and {tuple(target.shape)}"
        )


def ssim(preds: torch.Tensor, target: torch.Tensor) -> float:
    """Mean structural similarity of paired images.

    Args:
        preds: (N, C, H, W) in [0, 1].
        target: (N, C, H, W) in [0, 1].

    Returns:
        SSIM in [-1, 1]; 1 for identical images.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    _check_pairs(preds, target)
    value = structural_similarity_index_measure(preds.float(), target.float(), data_range=1.0)
    return float(value if isinstance(value, torch.Tensor) else value[0])


def psnr(preds: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of paired images, in dB, averaged over images.

    Args:
        preds: (N, C, H, W) in [0, 1].
        target: (N, C, H, W) in [0, 1].

    Returns:
        PSNR in dB (higher is better); ``inf`` when the images are identical.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    _check_pairs(preds, target)
    per_image = peak_signal_noise_ratio(
        preds.float(), target.float(), data_range=1.0, reduction="none", dim=(1, 2, 3)
    )
    return float(per_image.mean())


def clip_score(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> float:
    """CLIP score: mean over pairs of max(100 cos(image, text), 0).

    Args:
        image_embeddings: (N, D) from the CLIP network's image encoder.
        text_embeddings: (N, D) from its text encoder; row i is image i's prompt.

    Returns:
        A score in [0, 100]; higher means images and prompts agree more.
    """
    if image_embeddings.shape != text_embeddings.shape or image_embeddings.ndim != 2:
        raise RequestError(
            f"CLIP embeddings must both be (N, D); got {tuple(image_embeddings.shape)} "
            f"and {tuple(text_embeddings.shape)}"
        )
    cos = nn.functional.cosine_similarity(
        image_embeddings.double(), text_embeddings.double(), dim=1
    )
    return float((100 * cos).clamp(min=0).mean())


def prompt_accuracy(predicted: torch.Tensor, wanted: torch.Tensor) -> float:
    """Share of images whose predicted attributes match every attribute the prompt names.

    Args:
        predicted: (N, K) int attribute indices read from the images by a classifier.
        wanted: (N, K) int attribute indices parsed from each prompt, -1 where the
            prompt says nothing (those columns are not checked).

    Returns:
        Accuracy in [0, 1]. A prompt that names nothing counts as matched.
    """
    if predicted.shape != wanted.shape or predicted.ndim != 2:
        raise RequestError(
            f"attributes must both be (N, K); got {tuple(predicted.shape)} and {tuple(wanted.shape)}"
        )
    given = wanted >= 0
    ok = (predicted.long() == wanted.long()) | ~given
    return float(ok.all(dim=1).double().mean())


def is_splits(n: int) -> int:
    """Splits for IS with ``n`` images: 10 of at least 100 images each, else fewer."""
    return max(1, min(10, n // 100))


def finite_or_none(value: float) -> float | None:
    """JSON and YAML cards hold no Inf/NaN: PSNR of identical images becomes None."""
    return value if math.isfinite(value) else None


def label_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images a classifier assigns to the class they were drawn for.

    Args:
        logits: (N, K) class logits of the images.
        labels: (N,) int class each image was asked to show.

    Returns:
        Accuracy in [0, 1].
    """
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise RequestError(
            f"label accuracy needs (N, K) logits and (N,) labels; got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    if int(labels.max()) >= logits.shape[1] or int(labels.min()) < 0:
        raise RequestError(
            f"labels reach {int(labels.max())} but the reference network has {logits.shape[1]} classes"
        )
    return float((logits.argmax(1).cpu() == labels.long().cpu()).float().mean())
