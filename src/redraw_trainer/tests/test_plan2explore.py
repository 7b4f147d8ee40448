"""Plan2Explore: the ensemble disagrees more where the data never went."""

import torch
import torch.nn.functional as F

from redraw_trainer.learn.plan2explore import Disagreement


def latents(batch: int, groups: int, classes: int, low: int, high: int) -> torch.Tensor:
    return F.one_hot(torch.randint(low, high, (batch, groups)), classes).float()


def test_disagreement_is_higher_for_states_never_seen():
    torch.manual_seed(0)
    groups, classes, embed = 4, 8, 16
    ensemble = Disagreement(groups * classes, 2, embed, members=5, hidden=64)
    target = torch.nn.Linear(groups * classes + 2, embed)  # the "true" next embedding
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        z = latents(64, groups, classes, 0, classes // 2)  # the data only ever visits half the classes
        action = torch.rand(64, 2) * 2 - 1
        with torch.no_grad():
            embedding = target(torch.cat([z.flatten(-2), action], -1))
        loss = ensemble.loss(z, action, embedding, torch.ones(64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.1 * sum(losses[:10])
    action = torch.rand(256, 2) * 2 - 1
    with torch.no_grad():
        familiar = ensemble.intrinsic_reward(latents(256, groups, classes, 0, classes // 2), action).mean()
        novel = ensemble.intrinsic_reward(latents(256, groups, classes, classes // 2, classes), action).mean()
    assert novel > 3.0 * familiar
