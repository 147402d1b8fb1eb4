"""Reference agents of the leaderboard: a recipe per baseline, trained, evaluated on suite v0 and submitted.

    plastic-gym baseline list
    plastic-gym baseline train plastic-rnn-hebbian --seed 0          # train one model per suite task, evaluate, submit
    plastic-gym baseline sweep plastic-rnn-hebbian --seeds 0 1       # several seeds: local processes, or Ray tasks

Recipes are JSON files in ``configs/`` (see ``recipes.py``). Supervised recipes use the meta-trainer of
``plastic_gym.agents``; their slim checkpoints (weights and config, no optimizer state) are committed under
``checkpoints/<entry>/`` with a manifest that the leaderboard evaluates (``--agent .../manifest.json``).
"""
