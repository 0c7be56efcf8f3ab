"""Members' networks stacked into one computation: the parameter store and the batched forward passes.

All members' parameters live in one ``(members, P)`` tensor with a matching gradient tensor; each
parameter is a leaf view into it, so autograd fills the flat gradient in place and the optimizer
updates every layer of every member in a handful of tensor ops. The built-in MLP runs as explicit
``baddbmm`` layers with per-member dropout rates (one mask draw for all members); other models run
through ``torch.func.functional_call`` under ``vmap`` (which needs one shared dropout rate).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..builtin.recipe import is_l1_weight

# Parameters are strided views into the flat store; the gradients match their layout exactly, but
# autograd still notes that the views are not contiguous.
warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "silu": F.silu, "leaky_relu": F.leaky_relu}
IN_PLACE = {"relu": torch.relu_, "tanh": torch.tanh_, "silu": lambda h: F.silu(h, inplace=True),
            "leaky_relu": lambda h: F.leaky_relu(h, inplace=True)}


class StackedParams:
    """The members' parameters (same names, same shapes) as a flat ``(members, P)`` tensor."""

    def __init__(self, models: list[nn.Module]) -> None:
        first = list(models[0].named_parameters())
        self.names = [n for n, _ in first]
        self.shapes = [tuple(p.shape) for _, p in first]
        sizes = [p.numel() for _, p in first]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        with torch.no_grad():
            flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in models])
        mask = torch.cat([torch.full((p.numel(),), is_l1_weight(p)) for _, p in first])
        self.weight_mask = mask.to(device=flat.device, dtype=flat.dtype)  # where L1 applies
        self._set(flat)

    def _set(self, flat: torch.Tensor) -> None:
        self.flat = flat.contiguous()
        self.grad = torch.zeros_like(self.flat)
        m = len(self.flat)
        self.leaves = []
        for (a, b), shape in zip(zip(self.offsets, self.offsets[1:]), self.shapes):
            leaf = self.flat[:, a:b].view(m, *shape).detach().requires_grad_()
            leaf.grad = self.grad[:, a:b].view(m, *shape)
            self.leaves.append(leaf)

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at ``index`` (a new, compact store)."""
        self._set(self.flat.index_select(0, index))

    @torch.no_grad()
    def copy_member(self, to: int, source: int) -> None:
        """Member ``to`` takes ``source``'s weights (population-based training's exploit), in place."""
        self.flat[to].copy_(self.flat[source])

    def member(self, i: int) -> list[torch.Tensor]:
        """Copies of member ``i``'s parameters, shaped as in its module."""
        return [leaf[i].detach().clone() for leaf in self.leaves]

    @torch.no_grad()
    def load_into(self, values: list[torch.Tensor], model: nn.Module) -> None:
        for p, v in zip(model.parameters(), values):
            p.copy_(v)


BIT_LEVELS = 2**16  # a keep probability is a multiple of 1/65536: masks are drawn from 16 random bits


class MLPForward:
    """The built-in MLP (see ``models.build_mlp``) over stacked parameters: ``(M, B, ...) -> (M, B, out)``.

    Dropout rates may differ per member. Each step draws one 16-bit number per (unit, sample) for each
    distinct seed in the group, and a member keeps a unit where its seed's draw is below its keep level,
    scaled by the inverse of its keep probability as ``torch.nn.Dropout`` does. Each member's masks are
    distributed as in its own run, and members with different seeds drop independently; members that
    share a seed share the draw, as sequential runs with one seed share their random stream. A grid on
    one seed (the usual sweep) so draws once per step, not once per member: the CPU's generator is
    serial, and that draw was the largest cost of a step after the matrix products.
    """

    def __init__(self, activation: str, dropouts: list[float], device: torch.device,
                 generator: torch.Generator, seeds: list[int] | None = None) -> None:
        self.act = ACTIVATIONS[activation]
        self.act_in_place = IN_PLACE.get(activation, self.act)
        self.generator = generator
        self.set_dropouts(torch.tensor(dropouts, dtype=torch.float32, device=device),
                          list(seeds) if seeds is not None else [0] * len(dropouts))

    def set_dropouts(self, rates: torch.Tensor, seeds: list[int]) -> None:
        self.rates, self.seeds = rates, seeds
        # a member keeps a unit where the draw, uniform on the integers [-32768, 32767], is below
        # levels - 32768: its keep probability is levels / 65536, within 1/65536 of the rate asked, and
        # the rescale uses that exact value; at levels 65536 it keeps every unit (noise exactly 1)
        levels = ((1 - rates) * BIT_LEVELS).round().clamp(1, BIT_LEVELS).view(-1, 1, 1)
        self.keep_below, self.scale = levels - BIT_LEVELS // 2, BIT_LEVELS / levels
        self.any_dropout = bool((levels < BIT_LEVELS).any())
        distinct = sorted(set(seeds))
        self.n_draws = len(distinct)  # one draw broadcasts to every member
        self.draw_of = torch.tensor([distinct.index(seed) for seed in seeds], device=rates.device)
        self.pick_draws = 1 < self.n_draws and distinct != seeds  # else draw k is member k's already

    def keep(self, index: torch.Tensor) -> None:
        self.set_dropouts(self.rates.index_select(0, index), [self.seeds[i] for i in index.tolist()])

    def set_rate(self, member: int, rate: float) -> None:
        """Member ``member`` drops units at ``rate`` from the next step."""
        rates = self.rates.clone()
        rates[member] = rate
        self.set_dropouts(rates, self.seeds)

    def _noise(self, h: torch.Tensor) -> torch.Tensor:
        """Keep-and-rescale factors: ``clamp(keep_below - u, 0, 1) * scale`` with the step's shared draw
        ``u`` (integer-valued floats, so the clamp is exactly 1 where kept and 0 where dropped): three
        plain float ops, where torch.bernoulli with a tensor of probabilities, or a broadcast
        comparison, cost several times more."""
        shape = torch.Size((self.n_draws, *h.shape[1:]))
        if h.device.type == "cpu":
            u = self._draw_bits(shape)
        else:
            u = torch.randint(-BIT_LEVELS // 2, BIT_LEVELS // 2, shape, generator=self.generator,
                              device=h.device, dtype=torch.float32)
        if self.pick_draws:
            u = u.index_select(0, self.draw_of)
        return torch.sub(self.keep_below, u).clamp_(0, 1).mul_(self.scale).to(h.dtype)

    def _draw_bits(self, shape: torch.Size) -> torch.Tensor:
        """Uniform integers in [-32768, 32767], as floats: the CPU's generator is serial, and four 16-bit
        draws from each 64-bit word cut its cost (measured: 16 x 128 x 64 numbers in 108 us against
        289 us with torch.rand)."""
        n = shape.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-2**63, None, generator=self.generator)
        return words.view(torch.int16)[:n].view(shape).float()

    def __call__(self, leaves: list[torch.Tensor], x: torch.Tensor, training: bool) -> torch.Tensor:
        # Activations are kept transposed, (members, units, batch): each layer is W @ h + b with the
        # weights as stored, and autograd's weight gradient is grad @ h^T. With the activations as
        # (members, batch, units) the last layer's gradient, (128 x 64) @ (64 x 10) per member, ran at a
        # tenth of the speed of the others; a forward and backward step took 1.61 ms, now 1.23 ms.
        h = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)
        n_hidden = len(leaves) // 2 - 1
        act = self.act if training else self.act_in_place  # evaluating: no graph, one buffer less per layer
        for i in range(n_hidden):
            h = act(torch.baddbmm(leaves[2 * i + 1].unsqueeze(2), leaves[2 * i], h))
            if training and self.any_dropout:
                h = h * self._noise(h)
        return torch.baddbmm(leaves[-1].unsqueeze(2), leaves[-2], h).transpose(1, 2)


class VmapForward:
    """Any buffer-free module: ``functional_call`` of one template module, vmapped over members."""

    def __init__(self, template: nn.Module, names: list[str]) -> None:
        self.template, self.names = template, names

        def one(params, x):
            return torch.func.functional_call(self.template, dict(zip(self.names, params)), (x,))

        self._train = torch.func.vmap(one, randomness="different")
        self._eval = torch.func.vmap(one, randomness="error")

    def keep(self, index: torch.Tensor) -> None:
        pass

    def __call__(self, leaves: list[torch.Tensor], x: torch.Tensor, training: bool) -> torch.Tensor:
        self.template.train(training)
        return (self._train if training else self._eval)(tuple(leaves), x)
