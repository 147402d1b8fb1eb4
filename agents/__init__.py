"""plastic_gym.agents"""
