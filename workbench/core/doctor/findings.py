"""The doctor's analyses, on features and labels alone (no files, no model):

- ``out_of_sample``: class probabilities for every image from a classifier that did not see it — K-fold
  cross-validated logistic regression on the features (scikit-learn);
- ``label_issues``: confident learning (Northcutt, Jiang & Chuang, 2021) through cleanlab's
  ``find_label_issues``, with the images the held-out classifier plainly files elsewhere, ranked by the label's
  quality score (the probability of the given class);
- ``whiten``: the features in units of the spread within a class (the shared covariance of the features
  about their class means, Ledoit-Wolf shrunk): a trained network pulls each class together, so plain
  distances between its features say little at close range;
- ``near_duplicates``: pairs nearer each other than images usually are to their nearest neighbour (cleanlab
  Datalab's near-duplicate rule, 0.13 × the median nearest-neighbour distance, widened to 1 × for pairs whose
  thumbnails are 98.5 % alike) and alike in their thumbnails;
- ``outliers``: far from every class in the network's view (the Mahalanobis distance to the nearest class mean,
  Lee et al., 2018) and unlike any image to the eye (thumbnails), each read with Datalab's rule for features
  (above Q3 + (1/0.37037 − 1) × IQR);
- ``embedding``: a 2-D map of the features (PCA to 50 dimensions, then t-SNE).

scikit-learn and cleanlab are the ``doctor`` extra: ``needed()`` says how to get them when they are missing."""

from __future__ import annotations

import importlib.util

import numpy as np

from ..errors import UserError

__all__ = ["MissingLibraryError", "TooSmallError", "needed", "out_of_sample", "label_issues", "neighbours",
           "near_duplicates", "outliers", "embedding", "whiten", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "cnn-workbench[doctor]"  (or: pip install cleanlab scikit-learn)'
NEAR_DUPLICATE = 0.13
"""Datalab's near-duplicate radius, as a share of the median nearest-neighbour distance."""
LOOKS_ALIKE = 0.95
"""Thumbnail cosine similarity above which two images within Datalab's radius look alike to the eye."""
WIDE_RADIUS = 1.0
LOOKS_THE_SAME = 0.99
"""Within ``WIDE_RADIUS`` × the median nearest-neighbour distance, the thumbnails must be this alike."""
OUTLIER = 0.37037
"""Datalab's outlier threshold for features (the IQR scale is 1/threshold − 1)."""
NEIGHBOURS = 10
CONTRADICTED = 0.1
"""An image whose own class gets less than this held-out probability, while another class wins, is a suspect
even when confident learning's per-class threshold leaves it out."""


class MissingLibraryError(UserError, RuntimeError):
    """The doctor needs a library that is not installed; the message says how to get it."""


class TooSmallError(UserError, ValueError):
    """Too few images (in all, or in a class) for K-fold cross-validation; the message says what to do."""


def needed() -> None:
    """Raise ``MissingLibraryError`` unless cleanlab and scikit-learn are installed."""
    missing = [name for name, module in (("cleanlab", "cleanlab"), ("scikit-learn", "sklearn"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingLibraryError(f"Finding label errors, near-duplicates and outliers needs {' and '.join(missing)}, "
                                  f"which {'is' if len(missing) == 1 else 'are'} not installed. Get "
                                  f"{'it' if len(missing) == 1 else 'them'} with: {INSTALL_HINT}")


def folds_for(labels: np.ndarray, classes: list[str], folds: int) -> int:
    """The number of folds a K-fold split can have here (every class in every training part)."""
    counts = np.bincount(labels, minlength=len(classes))
    smallest = int(counts.min())
    if len(labels) < 10 or smallest < 2:
        few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < 2]
        raise TooSmallError(
            f"{len(labels)} images are too few to find label errors by cross-validation"
            + (f": {', '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than 2 images" if few else "")
            + ". Each class needs at least 2 images (5 or more for the usual 5 folds), and the folder at least 10: "
              "add images, or set the small classes aside.")
    return max(2, min(folds, smallest))


def out_of_sample(features: np.ndarray, labels: np.ndarray, classes: list[str], folds: int = 5,
                  seed: int = 0) -> tuple[np.ndarray, int]:
    """``N×classes`` probabilities, each image's from a logistic regression fitted on the other folds
    (standardised features, PCA to at most 128 dimensions); and the folds used."""
    needed()
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k = folds_for(labels, classes, folds)
    steps = [StandardScaler()]
    dims = min(128, features.shape[1], int(len(labels) * (k - 1) / k) - 1)
    if features.shape[1] > dims:
        steps.append(PCA(n_components=dims, random_state=seed))
    steps.append(LogisticRegression(C=0.1, max_iter=2000))
    model = make_pipeline(*steps)
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, features, labels, cv=cv, method="predict_proba")
    full = np.zeros((len(labels), len(classes)))
    full[:, np.unique(labels)] = probs  # classes without an image have no column
    return full, k


def label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the images confident learning finds mislabelled, surest first, and every image's label
    quality (the held-out probability of its given class, in [0, 1])."""
    needed()
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    present = np.unique(labels)
    if len(present) < 2:
        return np.array([], dtype=int), np.ones(len(labels))
    remap = {c: i for i, c in enumerate(present)}  # cleanlab wants every class to have an image
    sub = probs[:, present]
    sub = sub / np.clip(sub.sum(1, keepdims=True), 1e-12, None)
    y = np.array([remap[c] for c in labels])
    quality = get_label_quality_scores(y, sub, method="self_confidence")
    issues = set(find_label_issues(y, sub, filter_by="prune_by_noise_rate").nonzero()[0].tolist())
    # confident learning counts an image only above its class's mean confidence: in a small class one that the
    # held-out classifier plainly files elsewhere can fall short of it; those count too
    issues |= set(np.flatnonzero((sub.argmax(1) != y) & (quality < CONTRADICTED)).tolist())
    ranked = sorted(issues, key=lambda i: (quality[i], i))
    return np.asarray(ranked, dtype=int), np.asarray(quality)


def whiten(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The features whitened by their spread within the classes, and each image's Mahalanobis distance to
    the nearest class mean (in the same units)."""
    needed()
    from sklearn.covariance import LedoitWolf

    present = np.unique(labels)
    means = np.stack([features[labels == c].mean(0) for c in present])
    residual = features - means[np.searchsorted(present, labels)]
    precision = LedoitWolf().fit(residual).precision_
    try:
        root = np.linalg.cholesky((precision + precision.T) / 2)
    except np.linalg.LinAlgError:  # not positive definite in floating point: the diagonal alone
        root = np.diag(np.sqrt(np.clip(np.diag(precision), 1e-12, None)))
    white = features @ root
    white_means = means @ root
    far = np.sqrt(((white[:, None, :] - white_means[None, :, :]) ** 2).sum(-1)).min(1)
    return white, far


def neighbours(points: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each image's ``k`` nearest other images (Euclidean): (distances, indices), nearest first."""
    needed()
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(points) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(points)
    dist, idx = nn.kneighbors(points)
    out_d, out_i = np.zeros((len(points), k)), np.zeros((len(points), k), dtype=int)
    for row in range(len(points)):  # drop the image itself (an exact copy may come first instead)
        keep = [j for j in range(k + 1) if idx[row, j] != row][:k]
        out_d[row], out_i[row] = dist[row, keep], idx[row, keep]
    return np.clip(out_d, 0, None), out_i


def near_duplicates(dist: np.ndarray, idx: np.ndarray, thumbs: np.ndarray, keys: list[str]) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, similarity)`` of images that are copies of each other in another size, encoding or
    crop: near in the network's (whitened) view and alike in their thumbnails. Exact copies (same bytes)
    are left to the exact-duplicate check."""
    if dist.size == 0:
        return []
    positive = dist[:, 0][dist[:, 0] > 0]
    median = max(float(np.median(positive)) if len(positive) else 0.0, 1e-9)
    pairs = {}
    for i in range(len(dist)):
        for d, j in zip(dist[i, :3], idx[i, :3]):
            if d >= WIDE_RADIUS * median:
                break
            a, b = (i, int(j)) if i < j else (int(j), i)
            if keys[a] == keys[b] or (a, b) in pairs:
                continue
            alike = float(thumbs[a] @ thumbs[b])
            if alike >= (LOOKS_ALIKE if d < NEAR_DUPLICATE * median else LOOKS_THE_SAME):
                pairs[(a, b)] = alike
    return sorted(((a, b, s) for (a, b), s in pairs.items()), key=lambda p: -p[2])


def outliers(far: np.ndarray, unlike: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images like no class: beyond Datalab's cut-off (Q3 + (1/0.37037 − 1) × IQR) both in the network's view
    (``far``: the distance to the nearest class mean) and to the eye (``unlike``: the mean distance of the
    thumbnail to its nearest thumbnails). Their indices, most outlying first, and each image's lesser margin
    over the two cut-offs, in IQRs (above 0 for the flagged ones)."""
    if len(far) < 4:
        return np.array([], dtype=int), np.zeros(len(far))
    margins = []
    for values in (far, unlike):
        q1, q3 = np.percentile(values, [25, 75])
        margins.append((values - (q3 + (1 / OUTLIER - 1) * (q3 - q1))) / max(q3 - q1, 1e-9))
    margin = np.minimum(*margins)
    flagged = np.flatnonzero(margin > 0)
    return flagged[np.argsort(-margin[flagged])], margin


def embedding(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """``N×2``: PCA to at most 50 dimensions, then t-SNE (perplexity 30, or less for a small set)."""
    needed()
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(features)
    if n < 3:
        return np.zeros((n, 2))
    x = features - features.mean(0)
    dims = min(50, x.shape[1], n - 1)
    x = PCA(n_components=dims, random_state=seed).fit_transform(x) if x.shape[1] > dims else x
    if n < 6:
        return x[:, :2] if x.shape[1] >= 2 else np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    perplexity = float(min(30.0, (n - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
