"""The TF-IDF half of every router: word and character n-gram features, a linear SVM over them,
the evidence terms it gives, and `TfidfRouter`, the fast baseline built from them alone."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from townhall.services.routing.model import Router

ABSENT_CLASS_SCORE = 30.0  # how far below the rest a class missing from a fit scores
FEW_ROWS = 32  # up to this many messages, score by gathering coefficients (see sparse_scores)


def tfidf_vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """Word 1-2-grams (the readable evidence) and character 2-5-grams within words (typos)."""
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, strip_accents="unicode"
    )
    return words, chars


class TfidfFeatures:
    """Mixin: fit and apply the two TF-IDF vectorisers, and explain a linear model over them."""

    word_: TfidfVectorizer
    char_: TfidfVectorizer
    word_names_: np.ndarray
    char_names_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray
    classes_: np.ndarray
    n_evidence: int

    def _fit_tfidf(self, texts: list[str]) -> sp.csr_matrix:
        self.word_, self.char_ = tfidf_vectorizers()
        matrix = sp.hstack(
            [self.word_.fit_transform(texts), self.char_.fit_transform(texts)], format="csr"
        )
        self.word_names_ = self.word_.get_feature_names_out()
        self.char_names_ = self.char_.get_feature_names_out()
        return matrix

    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        """The same matrix as the vectorisers' `transform`, built directly: scikit-learn's input
        checks cost more than the arithmetic for one short message (about 1 ms a call)."""
        indptr = [0]
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        blocks = ((self.word_, 0), (self.char_, len(self.word_names_)))
        analyzers = [(_analyzer(v), v.vocabulary_, v.idf_, start) for v, start in blocks]
        for text in texts:
            nnz = 0
            for analyze, vocabulary, idf, start in analyzers:
                counts = Counter(
                    j for term in analyze(text) if (j := vocabulary.get(term)) is not None
                )
                if not counts:
                    continue
                columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                weights = (1.0 + np.log(weights)) * idf[columns]
                weights /= np.sqrt(weights @ weights)
                order = np.argsort(columns)
                indices.append(columns[order] + start)
                values.append(weights[order])
                nnz += len(columns)
            indptr.append(indptr[-1] + nnz)
        width = len(self.word_names_) + len(self.char_names_)
        if not indices:
            return sp.csr_matrix((len(texts), width))
        return sp.csr_matrix(
            (np.concatenate(values), np.concatenate(indices), np.array(indptr)),
            shape=(len(texts), width),
        )

    def _fit_linear(self, features: Any, y: np.ndarray, C: float, random_state: int) -> None:
        svc = LinearSVC(C=C, random_state=random_state, max_iter=5000).fit(features, y)
        coef = svc.coef_.astype(np.float32)
        intercept = svc.intercept_.astype(np.float32)
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second class
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.r_[-intercept / 2, intercept / 2]
        # A class missing from this fit (a tiny team, all held out) scores far below the rest.
        n_classes = len(self.classes_)
        self.coef_ = np.zeros((n_classes, coef.shape[1]), dtype=np.float32)
        self.intercept_ = np.full(n_classes, -ABSENT_CLASS_SCORE, dtype=np.float32)
        self.coef_[svc.classes_] = coef
        self.intercept_[svc.classes_] = intercept

    def _linear_scores(self, features: sp.csr_matrix) -> np.ndarray:
        return sparse_scores(features, self.coef_) + self.intercept_

    def _tfidf_evidence(self, row: sp.csr_matrix, column: int) -> tuple[str, ...]:
        """The n-grams with the largest positive coefficient x tf-idf for the chosen team."""
        contribution = row.data * self.coef_[column, row.indices]
        n_words = len(self.word_names_)
        picked: list[str] = []
        for is_word in (True, False):  # words first; character n-grams only if no word helps
            for j in np.argsort(-contribution):
                index = row.indices[j]
                if contribution[j] <= 0 or len(picked) >= self.n_evidence:
                    break
                if (index < n_words) == is_word:
                    name = (
                        self.word_names_[index]
                        if is_word
                        else self.char_names_[index - n_words].strip()
                    )
                    # One- and two-letter words and short character runs explain nothing.
                    if len(name) >= (3 if is_word else 4) and name not in picked:
                        picked.append(str(name))
            if picked:
                break
        return tuple(picked)


def sparse_scores(rows: sp.csr_matrix, coef: np.ndarray) -> np.ndarray:
    """rows @ coef.T, without the copy of `coef` scipy makes for a transposed dense operand:
    a few messages gather only the coefficients of their own n-grams."""
    if rows.shape[0] > FEW_ROWS:
        return np.asarray(rows @ np.ascontiguousarray(coef.T))
    out = np.empty((rows.shape[0], coef.shape[0]))
    for i in range(rows.shape[0]):
        lo, hi = rows.indptr[i], rows.indptr[i + 1]
        out[i] = coef[:, rows.indices[lo:hi]] @ rows.data[lo:hi]
    return out


_ANALYZERS: weakref.WeakKeyDictionary[TfidfVectorizer, Callable[[str], list[str]]] = (
    weakref.WeakKeyDictionary()
)


def _analyzer(vectorizer: TfidfVectorizer) -> Callable[[str], list[str]]:
    """A fitted vectoriser's analyser (preprocess, tokenise, n-grams), built once per object."""
    found = _ANALYZERS.get(vectorizer)
    if found is None:
        found = _ANALYZERS[vectorizer] = vectorizer.build_analyzer()
    return found


class TfidfRouter(TfidfFeatures, Router):
    """The fast baseline: TF-IDF word and character n-grams into a linear SVM, calibrated."""

    kind = "tfidf"

    def __init__(
        self,
        C: float = 0.5,
        target_precision: float = 0.97,
        max_false_triage: float = 0.02,
        validation_fraction: float = 0.15,
        refit: bool = True,
        random_state: int = 0,
        n_evidence: int = 5,
    ) -> None:
        self.C = C
        self.target_precision = target_precision
        self.max_false_triage = max_false_triage
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state
        self.n_evidence = n_evidence

    def _fit_scores(self, texts: list[str], y: np.ndarray) -> None:
        self._fit_linear(self._fit_tfidf(texts), y, self.C, self.random_state)

    def _score_blocks(
        self, texts: list[str], tfidf: sp.csr_matrix | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        features = self._tfidf(texts) if tfidf is None else tfidf
        return [self._linear_scores(features)], None
