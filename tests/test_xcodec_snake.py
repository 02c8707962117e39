"""The X-Codec's Snake with a hand-written backward (bench.codecs.xcodec.snake) against DAC's own module."""

import torch
from dac.nn.layers import Snake1d as DacSnake

from bench.codecs.xcodec.snake import Snake1d, _SnakeFn, swap_snakes


def _pair(channels: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    ref, ours = DacSnake(channels), Snake1d(channels)
    with torch.no_grad():
        ref.alpha.copy_(torch.rand(1, channels, 1) * 2 + 0.1)
        ours.alpha.copy_(ref.alpha)
    return ref, ours


def test_forward_is_dacs_bit_for_bit():
    ref, ours = _pair()
    x = torch.randn(3, 5, 200) * 3
    assert torch.equal(ours(x), ref(x))


def test_gradients_match_autograd_of_dacs_expression():
    ref, ours = _pair()
    x = (torch.randn(4, 5, 300) * 2).requires_grad_()
    g = torch.randn(4, 5, 300)
    gx_ref, ga_ref = torch.autograd.grad(ref(x), (x, ref.alpha), g)
    gx, ga = torch.autograd.grad(ours(x), (x, ours.alpha), g)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ga, ga_ref, rtol=1e-4, atol=1e-3)


def test_gradcheck_in_double():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    a = (torch.rand(1, 3, 1, dtype=torch.float64) + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(_SnakeFn.apply, (x, a))


def test_swap_keeps_parameters_and_leaves_no_dac_snake():
    from bench.codecs.xcodec.config import XCodecConfig
    from bench.codecs.xcodec.model import XCodecModel

    cfg = XCodecConfig(strides=(2, 2), enc_dim=4, latent_dim=8, dec_dim=16, semantic=False)
    m = XCodecModel(cfg)
    assert not any(isinstance(mod, DacSnake) for mod in m.modules())
    assert any(isinstance(mod, Snake1d) for mod in m.encoder.modules())
    keys = list(m.state_dict())
    assert any(k.endswith("alpha") for k in keys)

    tree = torch.nn.Sequential(DacSnake(3), torch.nn.Sequential(DacSnake(4)))
    before = [p for p in tree.parameters()]
    swap_snakes(tree)
    assert [p for p in tree.parameters()] == before  # same Parameter objects: optimizers and checkpoints see no change
    assert all(isinstance(mod, Snake1d) for mod in (tree[0], tree[1][0]))
