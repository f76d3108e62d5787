"""Doctest collection: the torch modules' examples need torch installed."""

import importlib.util

_TORCH_MODULES = [
    "models/_torch.py",
    "models/_torch_util.py",
    "strategies/_vaal.py",
    "strategies/_loss_prediction.py",
    "strategies/_deep_nets.py",
]
collect_ignore = [] if importlib.util.find_spec("torch") else _TORCH_MODULES
