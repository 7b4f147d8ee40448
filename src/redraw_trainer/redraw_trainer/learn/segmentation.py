"""Train the lane-marking segmentation net (`model.seg_net.SegNet`) on simulator pairs (`data.seg_pairs`) and
export it to ONNX.

Loss: class-weighted cross-entropy (markings are a few percent of the pixels; weights are the training set's class
frequencies to the power -`weight_power`, normalised to mean 1: 0.5 favours marking recall (fat masks), 0.25 is
closer to plain pixel accuracy). No augmentation here: the pairs already
carry the randomisation (`data.seg_pairs.Randomisation`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from redraw_trainer.model.seg_net import NUM_CLASSES, SegNet


@dataclass
class SegTraining:
    net: SegNet
    loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    heldout: list[dict] = field(default_factory=list)  # held-out scores per epoch (when held-out data is given)
    seconds: float = 0.0


def class_weights(labels: np.ndarray, power: float = 0.5) -> torch.Tensor:
    """Class frequency ** -power, normalised to mean 1 (power 0: plain cross-entropy)."""
    freq = np.bincount(labels.ravel(), minlength=NUM_CLASSES).astype(np.float64) / labels.size
    w = np.maximum(freq, 1e-4) ** -power
    return torch.as_tensor(w / w.mean(), dtype=torch.float32)


def pixel_scores(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Pixel accuracy, per-class IoU and the accuracy of predicting background everywhere."""
    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    iou = {}
    for k in range(NUM_CLASSES):
        inter, union = np.sum((pred == k) & (labels == k)), np.sum((pred == k) | (labels == k))
        iou[k] = float(inter / union) if union else float("nan")
    return {"pixel_accuracy": float(np.mean(pred == labels)), "all_background_accuracy": float(np.mean(labels == 0)),
            "iou": iou}


def train_segmentation(images: np.ndarray, labels: np.ndarray, epochs: int = 10, width: int = 16, batch: int = 64,
                       lr: float = 3e-3, seed: int = 0, held_images: np.ndarray | None = None,
                       held_labels: np.ndarray | None = None, weight_power: float = 0.5, log=None) -> SegTraining:
    """Adam with a cosine schedule over `epochs` passes; returns the net (eval mode) and its loss curve."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = SegNet(width)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * max(1, len(images) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.15)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(labels, weight_power))
    x_all, y_all = torch.as_tensor(images), torch.as_tensor(labels).long()
    out = SegTraining(net)
    start = time.time()
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(images))
        losses = []
        for i in range(0, len(order) - batch + 1 if len(order) >= batch else 1, batch):
            idx = torch.as_tensor(order[i:i + batch])
            loss = loss_fn(net(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched.last_epoch < steps - 1:
                sched.step()
            losses.append(loss.item())
        out.loss.append(float(np.mean(losses)))
        net.eval()
        if held_images is not None:
            out.heldout.append(pixel_scores(net.classes(held_images).numpy(), held_labels))
        if log:
            log(epoch, out)
    out.seconds = time.time() - start
    net.eval()
    return out


def save_net(net: SegNet, path: str | Path, meta: dict) -> None:
    torch.save({"width": net.width, "state_dict": net.state_dict(), "meta": meta}, path)


def load_net(path: str | Path) -> tuple[SegNet, dict]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    net = SegNet(ckpt["width"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval(), ckpt.get("meta", {})


def export_onnx(net: SegNet, path: str | Path, size: int = 64) -> None:
    """(1, size, size, 3) uint8 NHWC in, (1, 4, size, size) float logits out; batch dimension dynamic."""
    net.eval()
    example = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    torch.onnx.export(net, (example,), str(path), input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
