"""The lane-marking segmentation net learns (seeded, tiny): its loss falls and on held-out frames it beats
predicting background everywhere; its ONNX export matches torch."""

import numpy as np

from redraw_trainer.learn.segmentation import export_onnx, pixel_scores, train_segmentation


def stripe_frames(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy grey road frames with a yellow dashed stripe, a white line and sometimes a red bar; their classes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(30, 90, (n, 64, 64, 3)).astype(np.uint8)
    labels = np.zeros((n, 64, 64), np.uint8)
    rows = np.arange(64)
    for i in range(n):
        for cls, colour, x0 in ((1, (220, 200, 40), rng.integers(10, 28)), (2, (230, 230, 230), rng.integers(38, 56))):
            slope = rng.uniform(-0.3, 0.3)
            for y in rows:
                if cls == 1 and (y // 6) % 2:
                    continue
                x = int(x0 + slope * (y - 32))
                labels[i, y, x:x + 3] = cls
        if rng.random() < 0.5:
            labels[i, rng.integers(5, 55), 15:50] = 3
        for cls, colour in ((1, (220, 200, 40)), (2, (230, 230, 230)), (3, (200, 30, 30))):
            images[i][labels[i] == cls] = colour
    images = np.clip(images * rng.uniform(0.6, 1.2, (n, 1, 1, 1)), 0, 255).astype(np.uint8)
    return images, labels


def test_loss_falls_and_heldout_beats_all_background(tmp_path):
    x, y = stripe_frames(96, seed=0)
    hx, hy = stripe_frames(32, seed=1)
    run = train_segmentation(x, y, epochs=6, width=4, batch=16, lr=1e-2, seed=0, held_images=hx, held_labels=hy)
    assert run.loss[-1] < 0.6 * run.loss[0]
    scores = pixel_scores(run.net.classes(hx).numpy(), hy)
    assert scores["pixel_accuracy"] > scores["all_background_accuracy"] + 0.02
    assert scores["iou"][2] > 0.3  # the white line is found

    import onnxruntime as ort

    path = tmp_path / "seg.onnx"
    export_onnx(run.net, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    import torch

    with torch.no_grad():
        expected = run.net(torch.as_tensor(hx[:4])).numpy()
    got = session.run(None, {"image": hx[:4]})[0]
    assert np.abs(got - expected).max() < 1e-3
