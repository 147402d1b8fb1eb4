"""The suite's tasks, one module each: the generator and its Gymnasium env classes live together."""
