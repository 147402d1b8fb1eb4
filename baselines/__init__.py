"""plastic_gym.baselines"""
