"""`redraw demo` end to end at a tiny scale: the real simulator, bag, adaptation, ONNX and report.

The scale is far too small to learn anything; this checks the pipeline runs, that a second run with the
same seed reproduces every number, and that the report's pictures are real images.
"""

import json

import cv2
import matplotlib.image
import pytest
from PIL import Image

from redraw_trainer.demo import EXPERT, METHODS, run_demo
from redraw_trainer.core.config import DemoConfig

TINY = dict(transitions=300, episodes=2, episode_steps=15, oracle_steps=2, policy_updates=3, policy_batch=16,
            adapt_steps=5, workers=2, camera_check_frames=10)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    outs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"demo{k}")
        outs.append((out, run_demo(DemoConfig(out=str(out), **TINY), progress=False)))
    return outs


def numbers(results: dict) -> dict:
    return {name: {key: entry.get(key) for key in ("returns", "lane_time", "distance", "open_loop_kl", "heldout_kl")}
            for name, entry in results["methods"].items()}


def test_every_method_is_evaluated_through_its_onnx_export(two_runs):
    out, outcome = two_runs[0]
    methods = outcome["results"]["methods"]
    assert set(methods) == {*METHODS, EXPERT}  # the privileged expert: a reference row, no model
    assert len(methods[EXPERT]["returns"]) == TINY["episodes"]
    for name in METHODS:
        entry = methods[name]
        assert len(entry["returns"]) == TINY["episodes"]
        assert entry["parity"][0] < 1e-4
        assert (out / "seed0" / f"{name}.onnx").is_file()
    assert outcome["results"]["target_rows"] >= 100  # the target data went through a real rosbag2
    split = outcome["results"]["split"]
    assert split["train"]["rows"] + split["holdout"]["rows"] == outcome["results"]["target_rows"]
    assert "unknown" not in split["train"]["by_behaviour"]  # every episode traced to the behaviour that drove it


def test_a_second_run_with_the_same_seed_reproduces_the_numbers(two_runs):
    (_, first), (_, second) = two_runs
    assert numbers(first["results"]) == numbers(second["results"])
    assert first["table"] == second["table"]


def test_the_report_is_written_with_real_pictures(two_runs):
    out, outcome = two_runs[0]
    report = (out / "report.md").read_text()
    assert outcome["table"] in report
    for picture in ("returns.png", "open_loop_kl.png", "adaptation_curves.png", "policy_curves.png",
                    "imagined_vs_real.png"):
        assert f"({picture})" in report
        image = matplotlib.image.imread(out / picture)
        assert image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 0.01, picture
    assert json.loads((out / "results.json").read_text())["methods"].keys() == {*METHODS, EXPERT}


def test_the_report_shows_a_clip_and_the_path_of_one_episode_per_method(two_runs):
    out, outcome = two_runs[0]
    report = (out / "report.md").read_text()
    clips = outcome["results"]["clips"]
    assert set(clips) == set(METHODS)
    for name, clip in clips.items():
        assert clip["return"] == outcome["results"]["methods"][name]["returns"][0]  # the first evaluation episode
        for kind in ("mp4", "gif", "path"):
            assert f"({clip[kind]})" in report and (out / clip[kind]).stat().st_size > 1000, (name, kind)
        video = cv2.VideoCapture(str(out / clip["mp4"]))
        assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == clip["steps"]
        with Image.open(out / clip["gif"]) as gif:
            assert gif.n_frames == (clip["steps"] + 1) // 2
