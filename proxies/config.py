"""Configuration of the proxy model and its training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A small decoder-only Mixture-of-Experts transformer."""

    d_model: int = 128
    """Model (residual) width."""
    n_layers: int = 4
    """Transformer blocks."""
    n_heads: int = 4
    """Attention heads."""
    num_experts: int = 4
    """Routed experts per MoE layer (plus one shared expert)."""
    top_k: int = 2
    """Experts each token is routed to."""
    expert_hidden: int = 256
    """Hidden width of each SwiGLU expert."""
    window: int = 64
    """Sliding-window size of local attention layers."""
    global_every: int = 4
    """Every n-th layer attends globally; the others use the sliding window (3:1 for 4)."""
    seq_len: int = 128
    """Training sequence length."""

    def validate(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError(f"top_k must be in [1, num_experts={self.num_experts}], got {self.top_k}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How each proxy is trained."""

    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 16
    """Sequences per step."""
    lr: float = 3e-3
    """Peak learning rate."""
    optimizer: Literal["adamw", "muon"] = "adamw"
    """adamw, or muon (Newton-Schulz orthogonalised momentum for matrices, AdamW for the rest)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto uses CUDA (bf16 autocast) when present."""


@dataclass(frozen=True, kw_only=True)
class ProxyConfig:
    """Proxy model and training recipe."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
