"""PettingZoo multi-agent tasks built on the single-agent generators."""
