"""Attack signals from saved logits, exact in float64, and the one container attacks read.

Every signal is computed from logits with formulas that stay exact when the softmax saturates
(margins of 20-60 are common on memorised examples; float32 p_y rounds to 1 there and a whole block
of examples would tie at the top of a score list, erasing TPR at low FPR). The pivot is
r_c = logsumexp_{j != c} z_j - z_c = -log(p_c / (1 - p_c)), from which log p_c = -softplus(r_c) and
log(1 - p_c) = r_c - softplus(r_c), with softplus computed by ``np.logaddexp``.

``AttackData`` holds what an attacker has: the target's logits (black-box queries), reference
models' logits with *their* keep rows, labels and a population set no model trained on. It has
no field for the target's membership: that enters only in ``evaluation.metrics``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_softmax, softmax

from .data.views import augmentation_indices, noise_indices


def probs(logits: np.ndarray) -> np.ndarray:
    return softmax(np.asarray(logits, np.float64), axis=-1)


def log_probs(logits: np.ndarray) -> np.ndarray:
    return log_softmax(np.asarray(logits, np.float64), axis=-1)


def logsumexp(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a))) over the last axis of a float64 array, bit for bit what
    ``scipy.special.logsumexp(a, axis=-1)`` returns for real input (same steps: the maxima set aside,
    ``log1p`` of the rest's shifted sum), without its array-API overhead."""
    a_max = a.max(-1, keepdims=True)
    is_max = a == a_max
    m = is_max.sum(-1, keepdims=True, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # a row of only -inf gives nan, as scipy's does
        s = np.exp(np.where(is_max, -np.inf, a) - a_max).sum(-1, keepdims=True)
    s = np.where(s == 0, s, s / m)
    return (np.log1p(s) + np.log(m) + a_max)[..., 0]


def _pick(a: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """a[..., i, labels[i]] for arrays shaped (..., N, C)."""
    return np.take_along_axis(a, np.broadcast_to(labels[:, None], a.shape[:-1] + (1,)), axis=-1)[..., 0]


def _rest_margin(logits: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """r_c = logsumexp_{j != c} z_j - z_c in float64; ``cls`` is (N,) labels or one class per row (..., N)."""
    z = np.asarray(logits, np.float64)
    index = np.broadcast_to(np.asarray(cls)[..., None], z.shape[:-1] + (1,))
    others = z.copy()
    np.put_along_axis(others, index, -np.inf, axis=-1)
    return logsumexp(others) - np.take_along_axis(z, index, axis=-1)[..., 0]


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LiRA's phi = log(p_y / (1 - p_y)) = z_y - logsumexp_{j != y} z_j."""
    return -_rest_margin(logits, labels)


def log_true_class_prob(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, _rest_margin(logits, labels))


def true_class_prob(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.exp(log_true_class_prob(logits, labels))


def loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy per example: logsumexp(z) - z_y = softplus(r_y)."""
    return np.logaddexp(0.0, _rest_margin(logits, labels))


def _log1m_probs(logits: np.ndarray) -> np.ndarray:
    """log(1 - p_j) for every class: log1p(-p_j), and for the top class (where p_j may be ~1) through r_j."""
    z = np.asarray(logits, np.float64)
    out = np.log1p(-np.minimum(probs(z), 0.5))
    top = z.argmax(-1)
    r = _rest_margin(z, top)
    np.put_along_axis(out, top[..., None], (r - np.logaddexp(0.0, r))[..., None], axis=-1)
    return out


def entropy(logits: np.ndarray) -> np.ndarray:
    """Shannon entropy of the softmax, from exact log-probabilities."""
    logp = log_probs(logits)
    return -(np.exp(logp) * logp).sum(-1)


def modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr: -(1-p_y) log p_y - sum_{j!=y} p_j log(1-p_j), summed over j != y directly."""
    z = np.asarray(logits, np.float64)
    r_y = _rest_margin(z, labels)
    log_p_y, log_1m_p_y = -np.logaddexp(0.0, r_y), r_y - np.logaddexp(0.0, r_y)
    p, log1m = probs(z), _log1m_probs(z)
    terms = p * log1m
    np.put_along_axis(terms, np.broadcast_to(labels[:, None], z.shape[:-1] + (1,)), 0.0, axis=-1)
    return -np.exp(log_1m_p_y) * log_p_y - terms.sum(-1)


def _log_softplus(r: np.ndarray) -> np.ndarray:
    """log(softplus(r)) = log(log(1 + e^r)), exact also where e^r is far below float64's resolution of 1."""
    with np.errstate(divide="ignore"):
        return np.where(r < -30.0, r + np.log1p(-0.5 * np.exp(np.minimum(r, 0.0))), np.log(np.logaddexp(0.0, r)))


def _log_neg_log_probs(z: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """log(-log p_j) for every class (float64 logits ``z``, their ``log_probs``); for the top class
    through r_j (where -log p_j is tiny)."""
    with np.errstate(divide="ignore"):
        out = np.log(-np.minimum(logp, -1e-300))
    top = z.argmax(-1)
    np.put_along_axis(out, top[..., None], _log_softplus(_rest_margin(z, top))[..., None], axis=-1)
    return out


def _log_neg_log1m_probs(z: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """log(-log(1 - p_j)) for every class (float64 logits ``z``, their ``log_probs``); ~ log p_j where
    p_j is tiny, through r_j for the top class."""
    with np.errstate(divide="ignore"):
        out = np.where(logp < -30.0, logp + np.log1p(0.5 * np.exp(logp)),
                       np.log(-np.minimum(_log1m_probs(z), -1e-300)))
    top = z.argmax(-1)
    np.put_along_axis(out, top[..., None], np.log(np.logaddexp(0.0, -_rest_margin(z, top)))[..., None], axis=-1)
    return out


def log_entropy(logits: np.ndarray) -> np.ndarray:
    """log of the Shannon entropy, exact where the entropy itself is below float64's resolution of a threshold."""
    z = np.asarray(logits, np.float64)
    logp = log_probs(z)
    return logsumexp(logp + _log_neg_log_probs(z, logp))


def log_modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log of Song & Mittal's Mentr, each term in log space: log(1-p_y) + log(-log p_y) for the true class,
    log p_j + log(-log(1 - p_j)) for the others."""
    z = np.asarray(logits, np.float64)
    r_y = _rest_margin(z, labels)
    true_term = (r_y - np.logaddexp(0.0, r_y)) + _log_softplus(r_y)
    logp = log_probs(z)
    others = logp + _log_neg_log1m_probs(z, logp)
    np.put_along_axis(others, np.broadcast_to(labels[:, None], z.shape[:-1] + (1,)), -np.inf, axis=-1)
    return np.logaddexp(true_term, logsumexp(others))


def correct(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (np.asarray(logits).argmax(-1) == labels).astype(np.float64)


def sensitivity(clean_logits: np.ndarray, noisy_logits: np.ndarray) -> np.ndarray:
    """SAMIA's sensitivity: mean |p(x + noise) - p(x)| over noise queries, per class: (..., N, C).

    ``clean_logits`` (..., N, C); ``noisy_logits`` (..., K, N, C) with K noise draws."""
    return np.abs(probs(noisy_logits) - probs(clean_logits)[..., None, :, :]).mean(-3)


@dataclass(frozen=True)
class MembershipGame:
    """The membership game a model set plays: pool labels, population labels, keep-matrix (row 0 =
    target; only reference rows ever reach an attack), pool size and the saved query views."""

    labels: np.ndarray
    population_labels: np.ndarray
    keep: np.ndarray
    n_pool: int
    views: tuple[str, ...]




# Per-model signals that attacks read, by name: (views, fn). "aug": fn(logits of the augmentation views
# (..., Q_aug, N, C), labels) -> p(y|x) averaged over the views (..., N) (RMIA, BASE), or LiRA's
# logit-scaled confidence per view (..., Q_aug, N) (LiRA, BaVarIA); "id": fn(logits of the identity view
# (..., N, C), labels) -> Song & Mittal's signals, larger for members (the threshold attacks).
VIEW_SIGNALS = {"p_mean": ("aug", lambda logits, labels: true_class_prob(logits, labels).mean(-2)),
                "phi": ("aug", logit_scaled_confidence),
                "confidence": ("id", logit_scaled_confidence),
                "entropy": ("id", lambda logits, labels: -log_entropy(logits)),
                "modified_entropy": ("id", lambda logits, labels: -log_modified_entropy(logits, labels))}


@dataclass(frozen=True)
class AttackData:
    """What the attacker has for one target. Shapes: Q views, N pool examples, C classes,
    R reference models, P population examples."""

    labels: np.ndarray  # (N,)
    target_logits: np.ndarray  # (Q, N, C)
    ref_logits: np.ndarray  # (R, Q, N, C)
    ref_keep: np.ndarray  # (R, N) bool: the reference models' own training membership
    queries: tuple[str, ...]
    population_labels: np.ndarray  # (P,)
    target_population_logits: np.ndarray  # (Q, P, C)
    ref_population_logits: np.ndarray  # (R, Q, P, C)
    keys: tuple | None = None  # (target, *references): what names each model's logits in ``memo``
    memo: dict | None = field(default=None, compare=False, repr=False)  # per-model signals, shared by a level

    def __post_init__(self):
        q, n, c = self.target_logits.shape
        checks = [(self.labels.shape == (n,), f"labels shape {self.labels.shape} != ({n},)"),
                  (self.ref_logits.shape[1:] == (q, n, c), f"ref_logits shape {self.ref_logits.shape} does not "
                   f"match target_logits {self.target_logits.shape}"),
                  (self.ref_keep.shape == (self.ref_logits.shape[0], n), f"ref_keep shape {self.ref_keep.shape} "
                   f"!= ({self.ref_logits.shape[0]}, {n})"),
                  (len(self.queries) == q, f"{len(self.queries)} query names for {q} queries"),
                  (self.queries[0] == "id", "the first query must be the identity view 'id'"),
                  (int(self.labels.max(initial=0)) < c and int(self.labels.min(initial=0)) >= 0,
                   f"labels outside 0..{c - 1}")]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"AttackData: {message}")
        for name in ("target_logits", "ref_logits", "target_population_logits", "ref_population_logits"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"AttackData: {name} contains NaN or inf: the model diverged; retrain it "
                                 "(lower the learning rate) before attacking")
        object.__setattr__(self, "aug_idx", augmentation_indices(self.queries))
        object.__setattr__(self, "noise_idx", noise_indices(self.queries))

    @property
    def n_refs(self) -> int:
        return self.ref_logits.shape[0]

    def target_signal(self, name: str, population: bool = False) -> np.ndarray:
        """``VIEW_SIGNALS[name]`` of the target on the pool (or the ``population``)."""
        logits = self.target_population_logits if population else self.target_logits
        return self._signal(name, population, logits[None], self.keys[:1] if self.keys else None)[0]

    def ref_signal(self, name: str, population: bool = False) -> np.ndarray:
        """``VIEW_SIGNALS[name]`` of every reference model, stacked: (R, ...)."""
        logits = self.ref_population_logits if population else self.ref_logits
        return self._signal(name, population, logits, self.keys[1:] if self.keys else None)

    def _signal(self, name, population, logits, keys) -> np.ndarray:
        """Per model, from its augmentation views or its identity view; with a ``memo`` (``attack_data(..., memo=)``) computed
        once per model and shared by every attack and target of a level. The signals are per model and
        example, so a model's values are bit for bit the same alone or stacked with others (tested)."""
        (views, fn), labels = VIEW_SIGNALS[name], self.population_labels if population else self.labels
        views = self.aug_idx if views == "aug" else 0
        if self.memo is None or keys is None:
            return fn(logits[:, views], labels)
        out = []
        for key, one in zip(keys, logits):
            if (name, population, key) not in self.memo:
                self.memo[name, population, key] = fn(one[views], labels)
            out.append(self.memo[name, population, key])
        return np.stack(out)

    def require_refs(self, n: int, attack: str) -> None:
        if self.n_refs < n:
            raise ValueError(f"{attack} needs at least {n} reference models, got {self.n_refs}: "
                             "raise n_models")


def build_attack_data(game: MembershipGame, target_logits: np.ndarray, ref_logits: np.ndarray, refs: list[int],
                      keys: tuple | None = None, memo: dict | None = None) -> AttackData:
    """Split saved logits (..., pool + population, C) into an AttackData; ``refs`` are the reference
    models' rows in the game's keep-matrix (never the target's)."""
    n = game.n_pool
    return AttackData(labels=game.labels, target_logits=target_logits[:, :n], ref_logits=ref_logits[:, :, :n],
                      ref_keep=game.keep[refs].copy(), queries=game.views, population_labels=game.population_labels,
                      target_population_logits=target_logits[:, n:], ref_population_logits=ref_logits[:, :, n:],
                      keys=keys, memo=memo)


def attack_data(outputs, target: int = 0, ref_outputs=None, memo: dict | None = None) -> AttackData:
    """AttackData for model ``target`` of ``outputs`` (a ``modelsets.Outputs``: one level of a model set,
    or a compressed model set); the other models of ``ref_outputs`` (default the same) are references.
    ``memo``: one dict for all the AttackData of a level (alive as long as ``outputs``), in which each
    model's signals are computed once for every target and attack (``AttackData.target_signal``)."""
    ref_outputs = outputs if ref_outputs is None else ref_outputs
    refs = [m for m in range(outputs.game.keep.shape[0]) if m != target]
    keys = ((id(outputs), target),) + tuple((id(ref_outputs), m) for m in refs) if memo is not None else None
    return build_attack_data(outputs.game, outputs.logits(target), np.stack([ref_outputs.logits(m) for m in refs]),
                             refs, keys, memo)


def as_target(data: AttackData, ref: int) -> tuple[AttackData, np.ndarray]:
    """Play the game on reference model ``ref`` (whose membership the attacker knows): returns the
    AttackData with ``ref`` as target and the other references as references, and its keep row."""
    others = [r for r in range(data.n_refs) if r != ref]
    keys = (data.keys[1 + ref],) + tuple(data.keys[1 + r] for r in others) if data.keys else None
    return AttackData(data.labels, data.ref_logits[ref], data.ref_logits[others], data.ref_keep[others],
                      data.queries, data.population_labels, data.ref_population_logits[ref],
                      data.ref_population_logits[others], keys, data.memo), data.ref_keep[ref]
