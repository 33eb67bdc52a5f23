"""From the mixture's proxy-token shares to the full run's token shares, the epoch check and the blend.

The optimizer's weights are shares of *proxy-tokenizer* tokens. Two tokenizers compress components
differently, so the same documents give the full run other token shares. With ``p_c`` the proxy tokens
and ``f_c`` the full-run tokens of component ``c`` (the same documents, both with one end-of-text id
per document), taking ``w_c`` proxy tokens of ``c`` reads the fraction ``w_c / p_c`` of its documents,
which hold ``w_c * f_c / p_c`` full-run tokens:

    full share  s_c = w_c * r_c / sum_k w_k * r_k,   r_c = f_c / p_c  (full tokens per proxy token)

Megatron's ``BlendedDataset`` draws samples of ``seq_length`` tokens in proportion to the blend weights,
so a prefix's weight is its component's ``s_c`` times the prefix's share of the component's tokens.
"""

from __future__ import annotations

from dataplane.errors import InputError


def full_shares(weights: dict[str, float], proxy_tokens: dict[str, int],
                full_tokens: dict[str, int]) -> dict[str, float]:
    """The full run's token share of each component (see the module docstring); components with weight 0 get 0."""
    used = {c: w for c, w in weights.items() if w > 0}
    empty = [c for c in used if not full_tokens.get(c) or not proxy_tokens.get(c)]
    if empty:
        raise InputError(f"mixture.{empty[0]}: weight {used[empty[0]]:g} but the component has no tokens "
                         f"(proxy {proxy_tokens.get(empty[0], 0)}, full run {full_tokens.get(empty[0], 0)})")
    scaled = {c: w * full_tokens[c] / proxy_tokens[c] for c, w in used.items()}
    total = sum(scaled.values())
    return {c: scaled.get(c, 0.0) / total for c in weights}


def check_epochs(shares: dict[str, float], full_tokens: dict[str, int], budget: int, max_epochs: float,
                 where: str) -> dict[str, float]:
    """Epochs of each component in a run of ``budget`` full-run tokens; an error names the first component
    read more than ``max_epochs`` times (0 disables the check). ``where`` names the mixture file."""
    epochs = {c: (s * budget / full_tokens[c] if full_tokens.get(c) else 0.0) for c, s in shares.items()}
    if max_epochs > 0:
        over = [c for c, e in epochs.items() if e > max_epochs * (1 + 1e-9)]
        if over:
            c = over[0]
            raise InputError(f"{where}: mixture.{c}: {epochs[c]:.3g} epochs of {full_tokens[c]:,} full-run tokens "
                             f"for {shares[c] * budget:,.0f} tokens of token_budget {budget:,}, more than "
                             f"optimize.max_epochs={max_epochs:g}; lower its weight or the budget, or raise max_epochs")
    return epochs


def prefix_weights(shares: dict[str, float], units: dict[str, list[tuple[str, int]]]) -> list[tuple[float, str]]:
    """(weight, prefix) pairs: each component's share split over its non-empty prefixes by their tokens."""
    pairs = []
    for c, share in shares.items():
        total = sum(t for _, t in units.get(c, []))
        if share <= 0 or not total:
            continue
        pairs.extend((share * t / total, prefix) for prefix, t in units[c] if t > 0)
    return pairs


def megatron_blend(pairs: list[tuple[float, str]]) -> str:
    """The ``--data-path`` file: a comment, then one ``weight prefix`` pair per line."""
    head = "# Megatron-Core data blend written by automixer export: --data-path $(grep -v '^#' FILE)"
    return "\n".join([head] + [f"{w:.10f} {p}" for w, p in pairs]) + "\n"
