"""ReDRAW trainer: DRAW world model, residual dynamics adaptation, baselines, policies, the `redraw` CLI."""

__version__ = "0.1.0"
