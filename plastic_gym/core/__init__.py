"""The task contract, keyed random streams and the shared episode player."""
