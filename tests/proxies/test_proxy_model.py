"""The MoE proxy model on toy inputs: routing, balancing, sliding-window attention, Muon."""

from __future__ import annotations

import torch

from proxies.config import ModelConfig
from proxies.model import Attention, MoE, ProxyModel, sliding_window_mask
from proxies.muon import newton_schulz

TINY = ModelConfig(d_model=16, n_layers=2, n_heads=2, num_experts=4, top_k=2, expert_hidden=8,
                   window=4, global_every=2, seq_len=16)


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_moe_routing_sends_tokens_to_more_than_one_expert():
    torch.manual_seed(0)
    moe = MoE(TINY)
    for w in (moe.w1_EDF, moe.w3_EDF, moe.w2_EFD):
        torch.nn.init.normal_(w, std=0.02)
    x_BTD = torch.randn(2, 8, 16, generator=_seeded())
    y_BTD = moe(x_BTD)
    assert y_BTD.shape == x_BTD.shape
    assert int((moe.load_E > 0).sum()) > 1
    assert moe.load_E.sum() == 2 * 8 * TINY.top_k  # every token goes to exactly top_k experts
    idx_NA, gates_NA, _ = moe.route(x_BTD.reshape(-1, 16))
    assert torch.allclose(gates_NA.sum(-1), torch.ones(16))
    assert all(len(set(row)) == TINY.top_k for row in idx_NA.tolist())


def _skewed_moe() -> MoE:
    """A router that sends every token to experts 0 and 1."""
    moe = MoE(TINY)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[:2] = 0.05
    return moe


def test_balance_bias_spreads_load_of_a_skewed_router():
    moe = _skewed_moe()
    x_ND = torch.randn(64, 16, generator=_seeded(1)).abs()  # positive inputs: experts 0, 1 score highest
    moe(x_ND.view(1, 64, 16))
    before = moe.load_E.clone()
    assert before[2:].sum() == 0
    for _ in range(100):
        moe(x_ND.view(1, 64, 16))
        moe.update_balance_bias(0.01)
    after = moe.load_E
    assert after.max() < before.max() and int((after > 0).sum()) == 4


def test_aux_loss_gradient_moves_router_mass_off_overloaded_experts():
    """The aux loss is E * sum_e f_e * P_e: its gradient lowers the router probability P_e of the
    experts that got the tokens (the selection itself is evened out by the bias, tested above)."""
    moe = _skewed_moe()
    x_BTD = (torch.randn(64, 16, generator=_seeded(2)) + 1.0).view(1, 64, 16)
    opt = torch.optim.Adam(moe.router.parameters(), lr=0.01)

    def mass_on_busy_experts() -> float:
        _, _, scores_NE = moe.route(x_BTD.view(64, 16))
        return (scores_NE / scores_NE.sum(-1, keepdim=True))[:, :2].sum(-1).mean().item()

    moe(x_BTD)
    first_loss, first_mass = moe.aux_loss.item(), mass_on_busy_experts()
    for _ in range(20):
        moe(x_BTD)
        opt.zero_grad()
        moe.aux_loss.backward()
        opt.step()
    assert moe.aux_loss.item() < first_loss
    assert mass_on_busy_experts() < first_mass - 0.05


def test_sliding_window_layer_does_not_attend_past_the_window():
    torch.manual_seed(0)
    local, glob = Attention(TINY, is_global=False), Attention(TINY, is_global=True)
    glob.load_state_dict(local.state_dict())
    model = ProxyModel(TINY, vocab_size=32)
    cos, sin = model.cos_TK[:12], model.sin_TK[:12]
    x = torch.randn(1, 12, 16, generator=_seeded(3))
    x2 = x.clone()
    x2[0, 0] += 5.0  # change only token 0
    changed_local = (local(x2, cos, sin) - local(x, cos, sin)).abs().amax(-1)[0]
    changed_global = (glob(x2, cos, sin) - glob(x, cos, sin)).abs().amax(-1)[0]
    window = TINY.window
    assert (changed_local[:window] > 1e-6).all()  # tokens 0..3 see token 0
    assert (changed_local[window:] == 0).all()  # tokens 4.. do not
    assert (changed_global > 1e-6).all()


def test_window_mask_and_layer_pattern():
    mask = sliding_window_mask(6, 2)
    assert mask.tolist()[3] == [False, False, True, True, False, False]
    cfg = ModelConfig(d_model=16, n_layers=8, n_heads=2, num_experts=2, top_k=1, expert_hidden=8, seq_len=8)
    pattern = [b.attn.is_global for b in ProxyModel(cfg, vocab_size=8).blocks]
    assert pattern == [False, False, False, True] * 2  # 3:1 local:global


def test_model_loss_is_finite_and_backward_reaches_every_weight():
    torch.manual_seed(0)
    model = ProxyModel(TINY, vocab_size=32)
    idx = torch.randint(0, 32, (2, 16), generator=_seeded(4))
    fused_logits, loss = model(idx, idx)  # training: the fused head + loss keeps no logits
    loss.backward()
    assert fused_logits is None and torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
    logits, no_loss = model(idx)
    assert logits.shape == (2, 16, 32) and no_loss is None


def test_newton_schulz_orthogonalises_a_matrix_and_a_stack():
    g = torch.randn(3, 16, 8, generator=_seeded(5))
    s = torch.linalg.svdvals(newton_schulz(g))
    assert ((s > 0.5) & (s < 1.3)).all()
