"""The quality classifier: reference sources (positives) against a random sample of the pool (negatives).

Models (``ClassifierConfig.model``):
- linear: hashed word n-grams (scikit-learn HashingVectorizer, stateless) + logistic regression;
- lgbm: LightGBM on the heuristic features of curation.textstats;
- ensemble: the mean of both models' percentile ranks against the training sample's scores.

Saved in portable formats, never pickle: meta.json (settings, quantiles, AUC), linear_coef.npy,
lgbm.txt (LightGBM's text model). ``model: constant`` (too few positives) scores every document 0.5.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from curation.config import ClassifierConfig
from curation.textstats import FEATURE_NAMES, features

NUM_QUANTILES = 1001


def _vectorizer(n_features: int, ngram_max: int):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=n_features, ngram_range=(1, ngram_max), alternate_sign=False,
                             norm="l2", lowercase=True, dtype=np.float32)


def _rank(scores: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Percentile rank of each score among the reference quantiles, in [0, 1]."""
    lo = np.searchsorted(quantiles, scores, side="left")
    hi = np.searchsorted(quantiles, scores, side="right")
    return (lo + hi) / (2.0 * len(quantiles))


class QualityClassifier:
    """Scores texts in [0, 1], higher is better. Build with ``fit`` or ``load``.

    Args:
        config: model kind and hyperparameters.
        seed: seed of the hold-out split and of LightGBM.
    """

    def __init__(self, config: ClassifierConfig, seed: int = 0):
        self.config = config
        self.seed = seed
        self.kind = config.model
        self.meta: dict = {}
        self.coef_: np.ndarray | None = None
        self.booster_ = None

    # --- training ------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "QualityClassifier":
        """Train on a hold-out split; record ROC AUC per model in ``meta['auc']``."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split

        y = np.asarray(labels, dtype=np.int32)
        texts = [t[: self.config.max_chars] for t in texts]
        idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=self.config.holdout,
                                               random_state=self.seed, stratify=y)
        train = [texts[i] for i in idx_train]
        test = [texts[i] for i in idx_test]
        self.meta = {"model": self.kind, "seed": self.seed, "n_pos": int(y.sum()), "n_neg": int(len(y) - y.sum()),
                     "n_test": len(idx_test), "quantiles": {}, "auc": {}}
        parts = ["linear", "lgbm"] if self.kind == "ensemble" else [self.kind]
        for part in parts:
            getattr(self, f"_fit_{part}")(train, y[idx_train])
            self.meta["quantiles"][part] = np.quantile(self._predict_part(part, train),
                                                       np.linspace(0, 1, NUM_QUANTILES)).tolist()
            self.meta["auc"][part] = float(roc_auc_score(y[idx_test], self._predict_part(part, test)))
        if self.kind == "ensemble":
            self.meta["auc"]["ensemble"] = float(roc_auc_score(y[idx_test], self.predict(test)))
        return self

    def _fit_linear(self, texts: list[str], y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        c = self.config
        X = _vectorizer(2 ** c.hash_bits, c.ngram_max).transform(texts)
        model = LogisticRegression(C=c.reg_c, solver="liblinear", class_weight="balanced",
                                   max_iter=1000, random_state=self.seed).fit(X, y)
        self.coef_ = model.coef_.ravel().astype(np.float32)
        self.meta["linear"] = {"n_features": 2 ** c.hash_bits, "ngram_max": c.ngram_max,
                               "intercept": float(model.intercept_[0])}

    def _fit_lgbm(self, texts: list[str], y: np.ndarray) -> None:
        import lightgbm

        X = np.array([features(t, self.config.max_chars) for t in texts], dtype=np.float64)
        model = lightgbm.LGBMClassifier(n_estimators=self.config.lgbm_trees, num_leaves=15, learning_rate=0.05,
                                        min_child_samples=5, class_weight="balanced", random_state=self.seed,
                                        deterministic=True, force_row_wise=True, n_jobs=1, verbose=-1)
        model.fit(X, y)
        self.booster_ = model.booster_
        self.meta["lgbm"] = {"features": list(FEATURE_NAMES)}

    # --- scoring -------------------------------------------------------------------------------
    def _predict_part(self, part: str, texts: Sequence[str]) -> np.ndarray:
        if part == "linear":
            m = self.meta["linear"]
            X = _vectorizer(m["n_features"], m["ngram_max"]).transform(texts)
            return 1.0 / (1.0 + np.exp(-(X @ self.coef_ + m["intercept"])))
        rows = [features(t, self.config.max_chars) for t in texts]
        X = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        return self.booster_.predict(X)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Quality scores in [0, 1] (higher is better), one per text."""
        texts = [t[: self.config.max_chars] for t in texts]
        if not texts:
            return np.zeros(0)
        if self.kind == "constant":
            return np.full(len(texts), 0.5)
        if self.kind == "ensemble":
            quantiles = self.meta["quantiles"]
            ranks = [_rank(self._predict_part(p, texts), np.asarray(quantiles[p])) for p in ("linear", "lgbm")]
            return np.mean(ranks, axis=0)
        return np.asarray(self._predict_part(self.kind, texts), dtype=np.float64)

    # --- files ---------------------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        """Write meta.json (last, so its presence means the model is complete) and the model files."""
        from dataplane.store import atomic_write_bytes, atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.coef_ is not None:
            import io

            buf = io.BytesIO()
            np.save(buf, self.coef_, allow_pickle=False)
            atomic_write_bytes(folder / "linear_coef.npy", buf.getvalue())
        if self.booster_ is not None:
            atomic_write_text(folder / "lgbm.txt", self.booster_.model_to_string())
        meta = dict(self.meta, model=self.kind, config=_config_dict(self.config))
        atomic_write_text(folder / "meta.json", json.dumps(meta, indent=1, sort_keys=True))
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "QualityClassifier":
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        clf = cls(ClassifierConfig(**meta["config"]), seed=meta.get("seed", 0))
        clf.kind, clf.meta = meta["model"], meta
        if (folder / "linear_coef.npy").exists() and "linear" in meta:
            clf.coef_ = np.load(folder / "linear_coef.npy", allow_pickle=False)
        if (folder / "lgbm.txt").exists() and "lgbm" in meta:
            import lightgbm

            clf.booster_ = lightgbm.Booster(model_str=(folder / "lgbm.txt").read_text(encoding="utf-8"))
        return clf

    @classmethod
    def constant(cls, config: ClassifierConfig, why: str) -> "QualityClassifier":
        """The fallback: every document scores 0.5 (so every document lands in one bucket)."""
        clf = cls(config)
        clf.kind, clf.meta = "constant", {"model": "constant", "why": why, "auc": {}, "quantiles": {}}
        return clf


def _config_dict(config: ClassifierConfig) -> dict:
    from dataclasses import asdict

    return asdict(config)


class Scorer:
    """Stage: adds ``quality_score`` from the classifier saved in ``folder`` (loaded once per worker)."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self._clf: QualityClassifier | None = None

    def __call__(self, table: pa.Table) -> pa.Table:
        if self._clf is None:
            self._clf = QualityClassifier.load(self.folder)
        scores = self._clf.predict(table.column("text").to_pylist())
        return table.append_column("quality_score", pa.array(scores, pa.float64()))
