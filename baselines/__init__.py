"""Reference agents of the leaderboard: a recipe per baseline, trained, evaluated on suite v0 and submitted.

    plastic-gym baseline list
    plastic-gym baseline train plastic-rnn-hebbian --seed 0          # train one model per suite task, evaluate, submit
    plastic-gym baseline sweep plastic-rnn-hebbian --seeds 0 1       # several seeds: local processes, or Ray tasks

Recipes are JSON files in ``configs/`` (see ``recipes.py``), of two kinds:

- ``supervised`` (``supervised.py``): the meta-trainer of ``plastic_gym.agents``, one model per suite task; slim
  checkpoints (weights and config, no optimizer state) are committed;
- ``rl`` (``rl.py``): Stable-Baselines3 PPO / RecurrentPPO / PlasticPPO, one model per suite task, all at one
  env-step budget; the model zips are committed.

Either way an entry ``<recipe>-s<seed>`` is a folder ``checkpoints/<entry>/`` with a ``manifest.json`` that the
leaderboard evaluates (``--agent .../manifest.json``), and ``entries.run`` trains, evaluates and submits it.
"""
