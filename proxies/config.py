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
    """Hidden width of each SwiGLU expert (the shared expert too)."""
    window: int = 64
    """Sliding-window size of local attention layers (a token sees itself and window - 1 before it)."""
    global_every: int = 4
    """Every n-th layer attends globally; the others use the sliding window (3:1 for 4)."""
    seq_len: int = 128
    """Training sequence length."""
    aux_loss_coef: float = 0.01
    """Weight of the switch-style load-balancing loss; 0 disables it."""
    bias_update_rate: float = 0.001
    """Step of the aux-loss-free balancing bias (DeepSeek-V3) after each optimizer step; 0 disables it."""
    rope_base: float = 10000.0
    """RoPE frequency base."""
    moe_dispatch: Literal["sorted", "loop", "dense"] = "sorted"
    """How tokens reach their experts: sorted (one sort by expert, one gather, one matmul per expert, one
    scatter-add), loop (a nonzero and an out-of-place index_add per expert) or dense (every expert on
    every token, weighted by the gates: top_k / num_experts of its FLOPs are useful). Same model, same
    result up to float rounding; benchmarks/bench_proxy.py measures them."""
    loss_chunk: int = 128
    """Rows per chunk of the fused head + cross-entropy in training (proxies/loss.py); 0 materialises the
    whole (tokens x vocab) logits as the plain path does."""
    head_bf16: bool = False
    """Run the fused head + loss matmuls in bf16 (softmax in fp32) also without autocast: 1.12x tokens per
    core-second on this CPU, off because its effect on quality is not measured (docs/DECISIONS.md)."""

    def validate(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "num_experts", "expert_hidden", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError(f"head dim d_model/n_heads={self.d_model // self.n_heads} must be even (RoPE)")
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError(f"top_k must be in [1, num_experts={self.num_experts}], got {self.top_k}")
        if self.window < 1 or self.global_every < 1:
            raise ValueError(f"window and global_every must be at least 1, got {self.window}, {self.global_every}")
        if self.aux_loss_coef < 0 or self.bias_update_rate < 0:
            raise ValueError("aux_loss_coef and bias_update_rate must be >= 0 (0 disables)")
        if self.loss_chunk < 0:
            raise ValueError(f"loss_chunk must be >= 0 (0: plain cross-entropy), got {self.loss_chunk}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How each proxy is trained."""

    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 16
    """Sequences per step."""
    lr: float = 3e-3
    """Peak learning rate (AdamW, and the non-matrix weights under muon)."""
    optimizer: Literal["adamw", "muon"] = "adamw"
    """adamw, or muon (Newton-Schulz orthogonalised momentum for matrices, AdamW for the rest)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto uses CUDA (bf16 autocast) when present."""
    muon_lr: float = 0.02
    """Peak learning rate of the matrix weights under muon."""
    weight_decay: float = 0.0
    """Decoupled weight decay of matrix weights."""
    warmup_frac: float = 0.1
    """Share of steps with a linear warm-up; the rest decays linearly to min_lr_frac."""
    min_lr_frac: float = 0.1
    """Final learning rate as a share of the peak."""
    grad_clip: float = 1.0
    """Global gradient-norm clip; 0 disables it."""
    eval_batch_size: int = 32
    """Sequences per evaluation forward pass."""
    num_threads: int = 1
    """CPU threads per proxy (runs are bit-identical only at a fixed count); 0 keeps torch's default."""
    cpu_bf16: bool = False
    """Train under bf16 autocast on CPU too (CUDA always uses it); benchmarks/bench_proxy.py measures it."""
    compile: bool = False
    """torch.compile the model before training (inductor; the first proxy of a process pays the compile)."""

    def validate(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be at least 1, got {self.steps}, {self.batch_size}")
        if not 0 <= self.warmup_frac < 1 or not 0 <= self.min_lr_frac <= 1:
            raise ValueError("warmup_frac must be in [0, 1) and min_lr_frac in [0, 1]")


@dataclass(frozen=True, kw_only=True)
class ProxyConfig:
    """Proxy model and training recipe."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
