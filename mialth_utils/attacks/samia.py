"""SAMIA (Yuan & Zhang 2022): posterior, sensitivity to small input noise and the label, attacked by a
small self-attention model trained on reference models pruned exactly like the target.

The attention model is fitted in few, large steps: batches of 2048 rows (was 512), Adam at a learning
rate scaled with the batch, and early stopping on a held-out tenth of the reference rows (the weights
of the best held-out loss are kept). Per fit that is about a tenth of the optimiser steps of 20 epochs
of 512-row batches; ``SAMIA(batch_size=512, lr=2e-3, patience=0)`` is the former fit (README, Speed:
the AUCs of both on one model set).
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from .. import signals as S
from .base import Attack
from .classifier import subsample

log = logging.getLogger(__name__)


class _AttentionScorer(nn.Module):
    """Three tokens (posterior, sensitivity, one-hot label), a tiny transformer encoder, one logit."""

    def __init__(self, n_classes: int, dim: int = 32):
        super().__init__()
        self.embed = nn.ModuleList(nn.Linear(n_classes, dim) for _ in range(3))
        self.position = nn.Parameter(torch.zeros(3, dim))
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 1)

    def forward(self, tokens):  # (B, 3, C)
        h = torch.stack([emb(tokens[:, i]) for i, emb in enumerate(self.embed)], 1) + self.position
        return self.head(self.encoder(h).mean(1)).squeeze(1)


class SAMIA(Attack):
    """Yuan & Zhang 2022: posterior + sensitivity to small input noise + one-hot label, scored by a
    small self-attention model trained on reference models pruned like the target."""

    name = "samia"

    def __init__(self, epochs: int = 20, max_rows: int = 16000, seed: int = 0, batch_size: int = 2048,
                 lr: float = 4e-3, patience: int = 3, val_frac: float = 0.1):
        self.epochs, self.max_rows, self.seed, self.batch_size = epochs, max_rows, seed, batch_size
        self.lr, self.patience, self.val_frac = lr, patience, val_frac

    @staticmethod
    def _tokens(logits: np.ndarray, labels: np.ndarray, noise_idx: list[int]) -> np.ndarray:
        """logits (..., Q, N, C) -> tokens (..., N, 3, C)."""
        if not noise_idx:
            raise ValueError("samia needs noise query views (noise:sigma:k) in the saved logits")
        post = S.probs(logits[..., 0, :, :])
        sens = S.sensitivity(logits[..., 0, :, :], logits[..., noise_idx, :, :])
        onehot = np.broadcast_to(np.eye(logits.shape[-1])[labels], post.shape)
        return np.stack([post, sens * 10, onehot], axis=-2).astype(np.float32)

    def fit(self, data):
        data.require_refs(1, self.name)
        x = self._tokens(data.ref_logits, data.labels, data.noise_idx).reshape(-1, 3, data.ref_logits.shape[-1])
        y = data.ref_keep.ravel().astype(np.float32)
        rows = subsample(len(y), self.max_rows, self.seed)
        x, y = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
        n_val = int(len(y) * self.val_frac) if self.patience else 0  # rows are already shuffled by subsample
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = _AttentionScorer(x.shape[-1])
            self.epochs_ = self._train(x[n_val:], y[n_val:], x[:n_val], y[:n_val])
        return self

    def _train(self, x, y, x_val, y_val) -> int:
        """Adam on (x, y) for ``epochs``, stopping when the held-out loss has not improved for
        ``patience`` epochs (then the best weights are restored); returns the epochs run."""
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        best, best_state, waited, epoch = float("inf"), None, 0, 0
        loss_fn = nn.functional.binary_cross_entropy_with_logits
        for epoch in range(1, self.epochs + 1):
            self.model_.train()
            order = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), self.batch_size):
                b = order[i:i + self.batch_size]
                loss = loss_fn(self.model_(x[b]), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if not len(y_val):
                continue
            with torch.no_grad():
                self.model_.eval()
                val = loss_fn(self.model_(x_val), y_val).item()
            if val < best - 1e-4:
                best, waited = val, 0
                best_state = {k: v.clone() for k, v in self.model_.state_dict().items()}
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        log.debug("samia: %d epochs, held-out loss %.4f", epoch, best)
        return epoch

    @torch.no_grad()
    def score(self, data):
        self.model_.eval()
        x = torch.from_numpy(self._tokens(data.target_logits, data.labels, data.noise_idx))
        return self.model_(x).numpy().astype(np.float64)
