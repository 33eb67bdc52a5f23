"""The proxy model: a small decoder-only Mixture-of-Experts transformer, in one file, read top-down.

Shaped like the target model family at small scale. What is unusual compared to nanoGPT:
- Every block's feed-forward is an MoE layer: E routed SwiGLU experts, each token goes to its top-k
  by sigmoid router scores (gates renormalised over the chosen k, as in DeepSeek-V3), plus one
  shared SwiGLU expert every token passes through.
- Load balancing two ways (each can be switched off in ModelConfig): a switch-style auxiliary loss,
  and an aux-loss-free bias per expert that is added to the scores only to pick the top-k and is
  nudged towards under-loaded experts after each optimizer step (``update_balance_bias``).
- Attention layers are sliding-window (a token sees the last ``window`` tokens) except every
  ``global_every``-th layer, which is global causal; both go through F.scaled_dot_product_attention
  (the sliding layers with a boolean mask built once per sequence length).
- RMSNorm, RoPE, no biases, input embedding tied to the output head.
- Speed without changing the model (benchmarks/bench_proxy.py --throughput measures each): tokens reach
  their experts sorted by expert (``moe_dispatch``), and in training the head and the cross-entropy run
  fused over row chunks (proxies/loss.py, ``loss_chunk``), so the (tokens x vocab) logits are never kept.

Shape suffixes (torchtitan moe.py style):
    B batch, T sequence, D model dim, H heads, K head dim (D / H), V vocab,
    N tokens (B * T flattened), E routed experts, A chosen experts per token (top_k), F expert hidden.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from proxies.config import ModelConfig
from proxies.loss import linear_cross_entropy, token_nll

# --- building blocks ------------------------------------------------------------------------------

def rope_tables(seq_len: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos_TK, sin_TK for rotary embeddings (rotate-half layout)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles_TK2 = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    angles_TK = torch.cat([angles_TK2, angles_TK2], dim=-1)
    return angles_TK.cos(), angles_TK.sin()


def apply_rope(x_BHTK: torch.Tensor, cos_TK: torch.Tensor, sin_TK: torch.Tensor) -> torch.Tensor:
    half = x_BHTK.shape[-1] // 2
    rotated = torch.cat([-x_BHTK[..., half:], x_BHTK[..., :half]], dim=-1)
    return (x_BHTK * cos_TK + rotated * sin_TK).to(x_BHTK.dtype)


def sliding_window_mask(seq_len: int, window: int, device=None) -> torch.Tensor:
    """mask_TT: True where query t may attend key s (causal, and t - s < window)."""
    t = torch.arange(seq_len, device=device)
    dist_TT = t[:, None] - t[None, :]
    return (dist_TT >= 0) & (dist_TT < window)


class Attention(nn.Module):
    """Multi-head causal self-attention with RoPE; global or sliding-window."""

    def __init__(self, cfg: ModelConfig, is_global: bool):
        super().__init__()
        self.n_heads, self.is_global, self.window = cfg.n_heads, is_global, cfg.window
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x_BTD: torch.Tensor, cos_TK: torch.Tensor, sin_TK: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BTD.shape
        q_BTD, k_BTD, v_BTD = self.qkv(x_BTD).split(D, dim=-1)
        q_BHTK, k_BHTK, v_BHTK = (z.view(B, T, self.n_heads, -1).transpose(1, 2) for z in (q_BTD, k_BTD, v_BTD))
        q_BHTK, k_BHTK = apply_rope(q_BHTK, cos_TK, sin_TK), apply_rope(k_BHTK, cos_TK, sin_TK)
        if self.is_global or T <= self.window:  # a window as long as the sequence is plain causal attention
            y_BHTK = F.scaled_dot_product_attention(q_BHTK, k_BHTK, v_BHTK, is_causal=True)
        else:
            mask_TT = sliding_window_mask(T, self.window, x_BTD.device)
            y_BHTK = F.scaled_dot_product_attention(q_BHTK, k_BHTK, v_BHTK, attn_mask=mask_TT)
        return self.proj(y_BHTK.transpose(1, 2).reshape(B, T, D))


class SwiGLU(nn.Module):
    """The shared expert: silu(x W1) * (x W3), then W2."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, hidden, bias=False)
        self.w3 = nn.Linear(d_model, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x_ND: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x_ND)) * self.w3(x_ND))


class MoE(nn.Module):
    """E routed SwiGLU experts (top-k, sigmoid gates) plus one shared expert.

    After each forward, ``load_E`` holds how many tokens each expert received and ``aux_loss`` the
    switch-style balancing loss E * sum_e f_e * P_e (f: share of routed slots, P: mean gate).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        E, D, Fh = cfg.num_experts, cfg.d_model, cfg.expert_hidden
        self.num_experts, self.top_k, self.dispatch = E, cfg.top_k, cfg.moe_dispatch
        self.router = nn.Linear(D, E, bias=False)
        # Experts as stacked weights; Muon treats each expert's matrix separately (batched Newton-Schulz).
        self.w1_EDF = nn.Parameter(torch.empty(E, D, Fh))
        self.w3_EDF = nn.Parameter(torch.empty(E, D, Fh))
        self.w2_EFD = nn.Parameter(torch.empty(E, Fh, D))
        self.shared = SwiGLU(D, Fh)
        # Selection-only bias of aux-loss-free balancing: a buffer, never trained by gradients.
        self.register_buffer("balance_bias_E", torch.zeros(E))
        self.load_E = torch.zeros(E)
        self.aux_loss = torch.zeros(())

    def route(self, x_ND: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(chosen experts idx_NA, gates_NA summing to 1 per token, sigmoid scores_NE)."""
        scores_NE = torch.sigmoid(self.router(x_ND).float())
        idx_NA = torch.topk(scores_NE + self.balance_bias_E, self.top_k, dim=-1).indices
        chosen_NA = scores_NE.gather(1, idx_NA)
        gates_NA = chosen_NA / chosen_NA.sum(dim=-1, keepdim=True).clamp_min(1e-9)
        return idx_NA, gates_NA, scores_NE

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BTD.shape
        x_ND = x_BTD.reshape(B * T, D)
        idx_NA, gates_NA, scores_NE = self.route(x_ND)
        routed = {"sorted": self._routed_sorted, "loop": self._routed_loop, "dense": self._routed_dense}[self.dispatch]
        out_ND = self.shared(x_ND) + routed(x_ND, idx_NA, gates_NA)
        load_E = torch.bincount(idx_NA.flatten(), minlength=self.num_experts).float()
        self.load_E = load_E.detach()
        probs_NE = scores_NE / scores_NE.sum(dim=-1, keepdim=True).clamp_min(1e-9)
        frac_E = load_E / load_E.sum()
        self.aux_loss = self.num_experts * (frac_E * probs_NE.mean(dim=0)).sum()
        return out_ND.view(B, T, D)

    def _expert(self, e: int, h_ND: torch.Tensor) -> torch.Tensor:
        dt = h_ND.dtype
        return (F.silu(h_ND @ self.w1_EDF[e].to(dt)) * (h_ND @ self.w3_EDF[e].to(dt))) @ self.w2_EFD[e].to(dt)

    def _routed_loop(self, x_ND, idx_NA, gates_NA) -> torch.Tensor:
        """Per expert: nonzero, gather, SwiGLU, out-of-place index_add (the first implementation)."""
        out_ND = torch.zeros_like(x_ND)
        for e in range(self.num_experts):
            token_idx, slot_idx = (idx_NA == e).nonzero(as_tuple=True)
            if token_idx.numel() == 0:
                continue
            y_ND = self._expert(e, x_ND[token_idx]) * gates_NA[token_idx, slot_idx, None].to(x_ND.dtype)
            out_ND = out_ND.index_add(0, token_idx, y_ND.to(out_ND.dtype))
        return out_ND

    def _routed_sorted(self, x_ND, idx_NA, gates_NA) -> torch.Tensor:
        """Slots (token, choice) sorted by expert: one gather, one matmul chain per expert, one scatter-add."""
        N, A = idx_NA.shape
        expert_S = idx_NA.reshape(-1)  # S = N * A slots
        order_S = torch.argsort(expert_S, stable=True)
        counts = torch.bincount(expert_S, minlength=self.num_experts).tolist()
        token_S = order_S // A
        x_SD = x_ND[token_S]
        y_SD = torch.cat([self._expert(e, xs_D) for e, xs_D in enumerate(x_SD.split(counts))])
        y_SD = y_SD * gates_NA.reshape(-1)[order_S, None].to(y_SD.dtype)
        return torch.zeros_like(x_ND).index_add_(0, token_S, y_SD.to(x_ND.dtype))

    def _routed_dense(self, x_ND, idx_NA, gates_NA) -> torch.Tensor:
        """Every expert on every token (batched matmuls), combined with the gates (zero off the top-k)."""
        dt = x_ND.dtype
        x_END = x_ND.expand(self.num_experts, *x_ND.shape)
        h_ENF = F.silu(torch.bmm(x_END, self.w1_EDF.to(dt))) * torch.bmm(x_END, self.w3_EDF.to(dt))
        y_END = torch.bmm(h_ENF, self.w2_EFD.to(dt))
        combine_NE = torch.zeros(idx_NA.shape[0], self.num_experts, dtype=dt, device=x_ND.device)
        combine_NE = combine_NE.scatter(1, idx_NA, gates_NA.to(dt))
        return torch.einsum("ne,end->nd", combine_NE, y_END)

    @torch.no_grad()
    def update_balance_bias(self, rate: float) -> None:
        """Raise the bias of under-loaded experts and lower it for over-loaded ones by ``rate``."""
        self.balance_bias_E += rate * torch.sign(self.load_E.mean() - self.load_E).to(self.balance_bias_E.device)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        is_global = (layer + 1) % cfg.global_every == 0
        self.norm1, self.norm2 = nn.RMSNorm(cfg.d_model), nn.RMSNorm(cfg.d_model)
        self.attn = Attention(cfg, is_global)
        self.moe = MoE(cfg)

    def forward(self, x_BTD, cos_TK, sin_TK):
        x_BTD = x_BTD + self.attn(self.norm1(x_BTD), cos_TK, sin_TK)
        return x_BTD + self.moe(self.norm2(x_BTD))


# --- the model ------------------------------------------------------------------------------------

class ProxyModel(nn.Module):
    """Token ids in, next-token logits (and the training loss when targets are given) out."""

    def __init__(self, cfg: ModelConfig, vocab_size: int):
        super().__init__()
        cfg.validate()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: at proxy scale the embedding is most of the weights
        cos_TK, sin_TK = rope_tables(cfg.seq_len, cfg.d_model // cfg.n_heads, cfg.rope_base)
        # Not persistent: derived from the config, so they stay out of checkpoints and weight hashes.
        self.register_buffer("cos_TK", cos_TK, persistent=False)
        self.register_buffer("sin_TK", sin_TK, persistent=False)
        self.apply(self._init)
        for block in self.blocks:
            for w in (block.moe.w1_EDF, block.moe.w3_EDF, block.moe.w2_EFD):
                nn.init.normal_(w, std=0.02)
            # Residual projections scaled down with depth (GPT-2).
            nn.init.normal_(block.attn.proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
            nn.init.normal_(block.moe.w2_EFD, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def moe_layers(self) -> list[MoE]:
        return [block.moe for block in self.blocks]

    def forward(self, idx_BT: torch.Tensor, targets_BT: torch.Tensor | None = None):
        """(logits_BTV, loss): loss is next-token cross-entropy plus aux_loss_coef * balance loss. With targets
        and ``loss_chunk`` > 0 the logits are not materialised (proxies/loss.py) and come back as None."""
        h_BTD = self.hidden(idx_BT)
        if targets_BT is not None and self.cfg.loss_chunk > 0:  # fused head + loss: no logits kept
            logits_BTV = None
            dev = h_BTD.device.type
            dtype = (torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev)
                     else torch.bfloat16 if self.cfg.head_bf16 else None)
            loss = linear_cross_entropy(h_BTD.reshape(-1, h_BTD.shape[-1]), self.head.weight, targets_BT.reshape(-1),
                                        chunk=self.cfg.loss_chunk, dtype=dtype)
        else:
            logits_BTV = self.head(h_BTD).float()
            if targets_BT is None:
                return logits_BTV, None
            loss = F.cross_entropy(logits_BTV.view(-1, self.vocab_size), targets_BT.reshape(-1))
        if self.cfg.aux_loss_coef > 0:
            loss = loss + self.cfg.aux_loss_coef * torch.stack([m.aux_loss for m in self.moe_layers()]).mean()
        return logits_BTV, loss

    def hidden(self, idx_BT: torch.Tensor) -> torch.Tensor:
        """h_BTD: the final normed hidden states, which the head turns into logits."""
        T = idx_BT.shape[1]
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than model.seq_len={self.cfg.seq_len}")
        x_BTD = self.embed(idx_BT)
        cos_TK, sin_TK = self.cos_TK[:T], self.sin_TK[:T]
        for block in self.blocks:
            x_BTD = block(x_BTD, cos_TK, sin_TK)
        return self.norm(x_BTD)

    @torch.no_grad()
    def token_nll(self, idx_BT: torch.Tensor, targets_BT: torch.Tensor) -> torch.Tensor:
        """nll_BT: next-token loss (nats, float32) at every position, for scoring; the logits are made over
        row chunks of ``loss_chunk`` (all at once when it is 0)."""
        h_BTD = self.hidden(idx_BT)
        h_ND, t_N = h_BTD.reshape(-1, h_BTD.shape[-1]), targets_BT.reshape(-1)
        if self.cfg.loss_chunk > 0:
            return token_nll(h_ND, self.head.weight, t_N, chunk=self.cfg.loss_chunk).view(targets_BT.shape)
        logits_NV = self.head(h_ND).float()
        return F.cross_entropy(logits_NV, t_N, reduction="none").view(targets_BT.shape)

    def update_balance_bias(self) -> None:
        """Call after each optimizer step (aux-loss-free balancing)."""
        if self.cfg.bias_update_rate > 0:
            for moe in self.moe_layers():
                moe.update_balance_bias(self.cfg.bias_update_rate)
