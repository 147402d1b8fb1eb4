"""plastic_gym.leaderboard"""
