"""Optimizers of the proxy: AdamW, or Muon for matrix weights with AdamW for the rest.

Muon (Keller Jordan, 2024) takes SGD-momentum updates of 2-D weight matrices and replaces each by
the nearest semi-orthogonal matrix, computed with a quintic Newton-Schulz iteration. Embeddings,
the (tied) output head, norms and routers stay on AdamW, as in the reference recipe. Stacked expert
weights (E, D, F) are E matrices: the iteration is batched over the leading dimension.
"""

from __future__ import annotations

import torch

from proxies.config import TrainConfig


def newton_schulz(G: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately orthogonalise the last two dims of G (U S V^T -> U S' V^T with S' ~ 1)."""
    a, b, c = 3.4445, -4.7750, 2.0315  # coefficients tuned for fast convergence from the reference
    # bf16 is the reference choice on GPU; on CPU bf16 matmuls are slow, so stay in float32 there.
    X = G.to(torch.bfloat16 if G.is_cuda else torch.float32)
    transposed = X.size(-2) > X.size(-1)
    if transposed:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    if transposed:
        X = X.mT
    return X.to(G.dtype)


class Muon(torch.optim.Optimizer):
    """One optimizer over param groups flagged ``use_muon`` (matrices) or not (AdamW).

    Muon groups: lr, momentum, weight_decay, nesterov. AdamW groups: lr, betas, eps, weight_decay.
    """

    def __init__(self, param_groups: list[dict]):
        for group in param_groups:
            if group.get("use_muon"):
                group.setdefault("momentum", 0.95)
                group.setdefault("nesterov", True)
            else:
                group.setdefault("betas", (0.9, 0.95))
                group.setdefault("eps", 1e-8)
            group.setdefault("weight_decay", 0.0)
        super().__init__(param_groups, {})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if group["use_muon"]:
                    self._muon_update(p, group)
                else:
                    self._adamw_update(p, group)

    def _muon_update(self, p: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(p.grad)
        g = p.grad.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
        update = newton_schulz(g)
        # Scale so the update RMS does not depend on the matrix aspect ratio.
        update *= max(1.0, p.size(-2) / p.size(-1)) ** 0.5
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.add_(update, alpha=-group["lr"])

    def _adamw_update(self, p: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        state["exp_avg"].lerp_(p.grad, 1 - beta1)
        state["exp_avg_sq"].lerp_(p.grad.square(), 1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1 ** state["step"])
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])


def is_matrix_weight(name: str, p: torch.Tensor) -> bool:
    """Hidden-layer matrices go to Muon; embeddings, head, norms and routers do not."""
    return p.ndim >= 2 and not any(part in name for part in ("embed", "head", "router"))


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over everything, or Muon (matrices) + AdamW (the rest); each group keeps its peak lr."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    matrices = [p for n, p in named if is_matrix_weight(n, p)]
    others = [p for n, p in named if not is_matrix_weight(n, p)]
    if cfg.optimizer == "adamw":
        groups = [
            {"params": matrices, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
            {"params": others, "lr": cfg.lr, "weight_decay": 0.0},
        ]
        opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-8)
    elif cfg.optimizer == "muon":
        opt = Muon([
            {"params": matrices, "lr": cfg.muon_lr, "use_muon": True, "weight_decay": cfg.weight_decay},
            {"params": others, "lr": cfg.lr, "use_muon": False},
        ])
    else:
        raise ValueError(f"Unknown optimizer: {cfg.optimizer!r}, expected one of 'adamw', 'muon'")
    for group in opt.param_groups:
        group["peak_lr"] = group["lr"]
    return opt
