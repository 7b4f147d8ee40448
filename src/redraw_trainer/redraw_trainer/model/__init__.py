"""The networks and the files they live in: DRAW world model, ReDRAW residual, actor, checkpoints."""
