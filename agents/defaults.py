"""The one default of each setting that several modules share (network, model, trainer, SB3 policy, CLI).

A module that offers one of these settings as a keyword defaults it to the constant here, so the plastic network,
the supervised trainer, ``plastic-gym train`` and ``PlasticRecurrentPolicy`` build the same network when a user
names nothing.

``RULE = "hebbian"``: the README's examples and the trainer's documented default; ``rule="gradient"`` is the
rule to name for few-shot regression, where the paper finds it ahead (SPEC section 4).
This module imports nothing, so the console script can read it without torch.
"""

#: Width of h_t (``PlasticConfig.hidden_dim``); the paper's 128.
HIDDEN_DIM = 128
#: Plasticity rule (``PlasticConfig.rule``): one of ``plastic_gym.agents.rules.RULES``.
RULE = "hebbian"
#: Recurrent cell (``PlasticConfig.cell``): "rnn" (relu RNN) or "lstm".
CELL = "rnn"

__all__ = ["CELL", "HIDDEN_DIM", "RULE"]
