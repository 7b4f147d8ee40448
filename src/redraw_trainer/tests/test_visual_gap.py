"""`redraw visual-gap` on camera frames the test makes: probe, reconstruction, markings and a strip."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from redraw_perception import PreprocessConfig
from redraw_testing.scenes import road_frame
from redraw_trainer.cli import main
from redraw_trainer.visual_gap import VisualGapError, lane_probe, read_real_frames

MODEL = Path(__file__).resolve().parents[3] / "models" / "source_small.pt"


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> tuple[Path, Path]:
    """Twelve 640x480 road frames, the lane shifted sideways; labels say by how much (Duckietown signs)."""
    folder = tmp_path_factory.mktemp("frames")
    labels = folder / "pose.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageNumber", "timeStamp", "centerDistance", "relativeHeading", "Tile"])
        for i, shift in enumerate(np.linspace(-0.15, 0.15, 12)):
            name = f"frame_{i:02d}.jpg"
            cv2.imwrite(str(folder / name), cv2.cvtColor(road_frame(shift=shift), cv2.COLOR_RGB2BGR))
            writer.writerow([name, i * 0.1, 0.2 * shift, 0.0, "straight"])
    return folder, labels


def test_frames_are_read_with_the_models_preprocessing_and_labels_in_simulator_signs(frames):
    folder, labels = frames
    real = read_real_frames(folder, PreprocessConfig(observation="lane_masks"), labels)
    assert real.images.shape == (12, 64, 64, 3) and set(np.unique(real.images)) <= {0, 255}
    assert real.rgb.shape == (12, 64, 64, 3) and len(np.unique(real.rgb)) > 2
    np.testing.assert_allclose(real.pose[:, 0], -0.2 * np.linspace(-0.15, 0.15, 12), atol=1e-9)


def test_bad_labels_name_the_file_and_the_missing_column(frames, tmp_path):
    folder, _ = frames
    wrong = tmp_path / "pose.csv"
    wrong.write_text("image,d,phi\nframe_00.jpg,0,0\n")
    with pytest.raises(VisualGapError, match=r"pose.csv: columns \['ImageNumber'"):
        read_real_frames(folder, PreprocessConfig(), wrong)
    with pytest.raises(VisualGapError, match="no .* images"):
        read_real_frames(tmp_path, PreprocessConfig())


def test_probe_recovers_a_linear_lane_pose_and_reports_held_out_and_real_correlations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20))
    y = np.stack([x[:, 0] + 0.1 * rng.normal(size=400), x[:, 1] - x[:, 2]], 1)
    probe = lane_probe(x[:300], y[:300], x[300:], y[300:], -x[300:], y[300:])
    assert probe["d"]["sim_heldout"] > 0.95 and probe["phi"]["sim_heldout"] > 0.95
    assert probe["d"]["real"] < -0.95  # flipped features: the sign shows a convention mismatch


def test_visual_gap_command_prints_figures_and_writes_results_and_strip(frames, tmp_path, capsys):
    folder, labels = frames
    out = tmp_path / "vg"
    assert main(["visual-gap", "--frames", str(folder), "--labels", str(labels), "--model", str(MODEL),
                 "--sim-frames", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "probe corr., real" in printed and "reconstruction error per pixel" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["real_frames"] == 12 and result["labelled_real_frames"] == 12
    assert result["markings_found"]["either"] == 1.0  # every made frame has paint the masks must find
    assert 0.0 < result["reconstruction_error"]["real"] < 1.0
    assert np.isfinite(result["probe"]["d"]["sim_heldout"])
    assert (out / "strip.png").stat().st_size > 10_000
