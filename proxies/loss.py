"""The output head and next-token cross-entropy in one pass over row chunks (a fused linear cross-entropy).

The plain path materialises the (N, V) logits, runs log_softmax over them and keeps them for the
backward pass: at proxy scale (N = 2,048 tokens, V = 4,096) that is 32 MiB per step, larger than the
cache, read and written several times, and CPU's log_softmax backward is slow on it. Here the logits of
``chunk`` rows at a time are made, turned into their gradient (softmax minus one-hot) in place while
they are in cache, and multiplied straight into the gradients of the hidden states and the head weight.
The gradients are computed in the forward pass (they are cheap to keep: N x D and V x D) and scaled by
the incoming gradient in backward. Same value as ``F.cross_entropy(h @ w.T, t)`` up to float rounding.

Shape suffixes: N tokens, D model dim, V vocab, C rows of a chunk.
"""

from __future__ import annotations

import torch


class LinearCrossEntropy(torch.autograd.Function):
    """mean over N of -log softmax(h_ND @ w_VD.T)[n, t_N[n]]; gradients for h and w."""

    @staticmethod
    def forward(ctx, h_ND, w_VD, t_N, chunk: int, dtype):
        N = h_ND.shape[0]
        grad_h_ND = torch.empty_like(h_ND)
        grad_w_VD = torch.zeros(w_VD.shape, dtype=torch.float32, device=w_VD.device)
        total = torch.zeros((), dtype=torch.float32, device=h_ND.device)
        with torch.autocast(device_type=h_ND.device.type, enabled=False):  # matmuls in ``dtype``, softmax in fp32
            hc_ND, wc_VD = h_ND.to(dtype), w_VD.to(dtype)
            for s in range(0, N, chunk):
                h_CD, t_C = hc_ND[s:s + chunk], t_N[s:s + chunk]
                logits_CV = (h_CD @ wc_VD.T).float()
                lse_C = torch.logsumexp(logits_CV, dim=-1)
                total += (lse_C - logits_CV.gather(1, t_C[:, None]).squeeze(1)).sum()
                grad_CV = logits_CV.sub_(lse_C[:, None]).exp_()  # softmax, in place
                grad_CV[torch.arange(len(t_C), device=t_C.device), t_C] -= 1.0
                grad_CV = grad_CV.to(dtype)
                grad_h_ND[s:s + chunk] = grad_CV @ wc_VD
                if dtype == torch.float32:
                    grad_w_VD.addmm_(grad_CV.T, h_CD)
                else:
                    grad_w_VD += (grad_CV.T @ h_CD).float()
        ctx.save_for_backward(grad_h_ND, grad_w_VD.to(w_VD.dtype))
        ctx.n = N
        return total / N

    @staticmethod
    def backward(ctx, grad_out):
        grad_h_ND, grad_w_VD = ctx.saved_tensors
        scale = grad_out / ctx.n
        return grad_h_ND * scale.to(grad_h_ND.dtype), grad_w_VD * scale.to(grad_w_VD.dtype), None, None, None


def linear_cross_entropy(h_ND: torch.Tensor, w_VD: torch.Tensor, t_N: torch.Tensor, *, chunk: int,
                         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy of the head ``w_VD`` on hidden states ``h_ND`` (see module docstring);
    the matmuls run in ``dtype`` (default: h's), the softmax in float32."""
    return LinearCrossEntropy.apply(h_ND, w_VD, t_N, chunk, dtype or h_ND.dtype)


@torch.no_grad()
def token_nll(h_ND: torch.Tensor, w_VD: torch.Tensor, t_N: torch.Tensor, *, chunk: int) -> torch.Tensor:
    """Next-token loss (nats, float32) of every row, the logits made ``chunk`` rows at a time (scoring)."""
    out_N = torch.empty(h_ND.shape[0], dtype=torch.float32, device=h_ND.device)
    for s in range(0, h_ND.shape[0], chunk):
        logits_CV = (h_ND[s:s + chunk] @ w_VD.T.to(h_ND.dtype)).float()
        out_N[s:s + chunk] = torch.logsumexp(logits_CV, dim=-1) - logits_CV.gather(1, t_N[s:s + chunk, None]).squeeze(1)
    return out_N
