"""The metrics against independent computations (numpy/scipy) and against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from zoo import metrics as M
from zoo.registry.errors import RequestError


def correlated(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """(n, d) features with a full covariance, like a network's."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(99)) / math.sqrt(d)
    return (torch.randn(n, d, generator=g) * scale) @ (torch.eye(d) + mix) + shift


# -- FID ----------------------------------------------------------------------------------


def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al.: ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b))."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.3, 1.0), (1.0, 2.0)])
def test_fid_matches_scipy(shift: float, scale: float) -> None:
    real = correlated(400, 16, seed=1)
    fake = correlated(300, 16, seed=2, shift=shift, scale=scale)
    want = fid_reference(real.double().numpy(), fake.double().numpy())
    assert M.fid(real, fake) == pytest.approx(want, rel=1e-6, abs=1e-8)


def test_fid_of_a_set_with_itself_is_zero() -> None:
    x = correlated(200, 32, seed=3)
    assert abs(M.fid(x, x)) < 1e-6


def test_fid_through_the_reference_network_module() -> None:
    """torchmetrics fed images through ReferenceFeatures == fid() on the same features,
    and reset() with reset_real_features=False keeps the real statistics."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from zoo.plugins.classifier.config import ClassifierConfig
    from zoo.plugins.classifier.model import ClassifierNetwork

    torch.manual_seed(0)
    net = ClassifierNetwork(ClassifierConfig.preset("tiny")).eval()
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 8, 8, generator=g)
    fake = (real + 0.3 * torch.rand(64, 1, 8, 8, generator=g)).clamp(0, 1)
    noise = torch.rand(64, 1, 8, 8, generator=g)
    module = M.ReferenceFeatures(net)
    assert module.num_features == net.num_features
    metric = FrechetInceptionDistance(feature=module, normalize=True, reset_real_features=False)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    first = float(metric.compute())
    metric.reset()  # keeps the real statistics
    metric.update(noise, real=False)
    second = float(metric.compute())
    feats = {k: M.extract(module, v) for k, v in (("r", real), ("f", fake), ("n", noise))}
    assert first == pytest.approx(M.fid(feats["r"], feats["f"]), rel=1e-5)
    assert second == pytest.approx(M.fid(feats["r"], feats["n"]), rel=1e-5)


# -- IS -----------------------------------------------------------------------------------


def is_reference(logits: np.ndarray) -> float:
    """Salimans et al.: exp(E_x KL(p(y|x) || p(y))) with p(y) the mean of p(y|x)."""
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p_y = p.mean(0, keepdims=True)
    kl = (p * (np.log(p) - np.log(p_y))).sum(1)
    return float(np.exp(kl.mean()))


def test_is_matches_numpy_single_split() -> None:
    logits = torch.randn(500, 10, generator=torch.Generator().manual_seed(4)) * 3
    mean, std = M.inception_score(logits, splits=1)
    assert mean == pytest.approx(is_reference(logits.double().numpy()), rel=1e-9)
    assert std == 0.0


def test_is_matches_numpy_over_the_same_splits() -> None:
    """With splits, the zoo shuffles (seeded), drops the remainder and cuts equal groups."""
    logits = torch.randn(503, 10, generator=torch.Generator().manual_seed(5)) * 2
    splits, seed = 5, 7
    torch.manual_seed(seed)
    keep = torch.randperm(503)[:500]
    torch.manual_seed(seed)  # torchmetrics shuffles again with the same seed
    order = keep[torch.randperm(500)]
    groups = logits[order].double().numpy().reshape(splits, 100, 10)
    scores = [is_reference(g) for g in groups]
    mean, std = M.inception_score(logits, splits=splits, seed=seed)
    assert mean == pytest.approx(np.mean(scores), rel=1e-9)
    assert std == pytest.approx(np.std(scores, ddof=1), rel=1e-9)


def test_is_bounds() -> None:
    assert M.inception_score(torch.zeros(100, 10))[0] == pytest.approx(1.0)
    confident = torch.eye(10).repeat(10, 1) * 50  # every class, each certain
    assert M.inception_score(confident)[0] == pytest.approx(10.0, rel=1e-6)


# -- KID ----------------------------------------------------------------------------------


def kid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3 (Binkowski et al.), whole sets."""
    d = a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m = len(a)
    off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # noqa: E731
    return float(off(k_aa) + off(k_bb) - 2 * k_ab.mean())


def test_kid_matches_numpy_on_whole_sets() -> None:
    real, fake = correlated(300, 8, seed=6), correlated(300, 8, seed=7, shift=0.5)
    want = kid_reference(real.double().numpy(), fake.double().numpy())
    assert M.kid(real, fake)[0] == pytest.approx(want, rel=1e-9)


def test_kid_is_near_zero_for_one_distribution() -> None:
    a, b = correlated(400, 16, seed=8), correlated(400, 16, seed=9)
    far = correlated(400, 16, seed=10, shift=1.0)
    same = M.kid(a, b, subset_size=200, subsets=20)[0]
    assert abs(same) < 0.02
    assert M.kid(a, far, subset_size=200, subsets=20)[0] > 20 * max(abs(same), 1e-3)


# -- precision and recall -------------------------------------------------------------------


def modes(n_per: int, which: list[int], seed: int) -> torch.Tensor:
    """2-d samples around 10 well separated centres (at least 50 apart, spread 1)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, 2, generator=torch.Generator().manual_seed(0)) * 100
    return torch.cat([centres[i] + torch.randn(n_per, 2, generator=g) for i in which])


def test_precision_recall_identical_sets() -> None:
    x = modes(30, list(range(10)), seed=1)
    assert M.precision_recall(x, x) == (1.0, 1.0)


def test_precision_recall_disjoint_far_sets() -> None:
    assert M.precision_recall(modes(30, [0, 1, 2], 1), modes(30, [5, 6, 7], 2)) == (0.0, 0.0)


def test_recall_of_half_the_modes_is_half() -> None:
    real = modes(50, list(range(10)), seed=1)
    half = modes(100, [0, 1, 2, 3, 4], seed=2)  # as many images, half the modes
    precision, recall = M.precision_recall(real, half, k=3)
    assert precision > 0.9
    assert recall == pytest.approx(0.5, abs=0.05)


def test_knn_radius_is_the_kth_neighbour() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert M.knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert M.knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 5.0]
    with pytest.raises(RequestError, match="k must lie in"):
        M.knn_radii(x, k=4)


# -- paired images, CLIP score, prompt accuracy ----------------------------------------------


def test_ssim_and_psnr() -> None:
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert M.ssim(x, x) == pytest.approx(1.0)
    assert M.psnr(x, x) == math.inf
    assert M.finite_or_none(M.psnr(x, x)) is None
    grey = torch.full((2, 1, 8, 8), 0.5)
    assert M.psnr(grey + 0.1, grey) == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.01)
    assert M.ssim(x, torch.rand_like(x)) < 0.2
    with pytest.raises(RequestError, match="one \\(N, C, H, W\\) shape"):
        M.ssim(x, x[:2])


def test_clip_score() -> None:
    e = torch.nn.functional.normalize(torch.randn(5, 16), dim=1)
    assert M.clip_score(e, e) == pytest.approx(100.0)
    assert M.clip_score(e, -e) == 0.0  # negative cosines are clipped at 0
    a, b = torch.eye(4)[:2], torch.eye(4)[2:]
    assert M.clip_score(a, b) == 0.0


def test_prompt_accuracy_checks_only_what_the_prompt_names() -> None:
    predicted = torch.tensor([[1, 2, 0], [1, 2, 0], [0, 0, 0]])
    wanted = torch.tensor([[1, -1, -1], [1, 3, -1], [-1, -1, -1]])
    assert M.prompt_accuracy(predicted, wanted) == pytest.approx(2 / 3)


def test_metric_catalogue_is_one_list() -> None:
    from zoo.eval_metrics import METRIC_NAMES, METRICS, parse_metrics

    assert tuple(METRICS) == METRIC_NAMES
    assert parse_metrics("FID, is,fid") == ("fid", "is")
    with pytest.raises(RequestError, match="unknown metric 'fdi'; choose from fid, is, kid"):
        parse_metrics("fid,fdi")


def test_label_accuracy_counts_the_classifiers_agreement() -> None:
    from zoo.metrics import label_accuracy
    from zoo.registry.errors import RequestError

    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 3.0, 4.0], [1.0, 0.0, 0.0]])
    assert label_accuracy(logits, torch.tensor([0, 1, 2, 2])) == 0.75
    assert label_accuracy(logits, torch.tensor([1, 0, 0, 1])) == 0.0
    with pytest.raises(RequestError, match="3 classes"):
        label_accuracy(logits, torch.tensor([0, 1, 2, 3]))
