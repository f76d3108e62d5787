"""Doctest collection: the torch modules' examples need torch installed."""

import importlib.util

collect_ignore = (
    [] if importlib.util.find_spec("torch") else ["models/_torch.py", "models/_torch_util.py"]
)
