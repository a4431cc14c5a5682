"""An independent judge of generated digits: an SVM on scikit-learn's 8x8 digits.

Generated images (any size, in [0, 1]) are area-averaged to 8x8 and scaled to
the 0..16 range of the original data. The judge is trained on the digits
train split and checked on the held-out test split by the tests that use it.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F


def to_8x8(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1] -> (B, 64) in 0..16."""
    x = F.adaptive_avg_pool2d(images.float(), 8)
    return (x * 16).reshape(len(x), 64)


@lru_cache(maxsize=1)
def judge():
    from sklearn.svm import SVC

    from zoo.plugins.datasets.digits import load

    train = load("train", image_size=16)
    clf = SVC(C=10.0, gamma="scale")
    clf.fit(to_8x8(train["image"]).numpy(), train["label"].numpy())
    return clf


def predict(images: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(judge().predict(to_8x8(images).numpy()))


def held_out_accuracy() -> float:
    from zoo.plugins.datasets.digits import load

    test = load("test", image_size=16)
    return (predict(test["image"]) == test["label"]).float().mean().item()
