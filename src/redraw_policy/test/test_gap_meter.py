"""The reality-gap meter without ROS: the reading, the state it carries, its step rules, and the file contract."""

import numpy as np
import pytest

from redraw_perception import ContractError
from redraw_policy.gap_meter import GapMeter, MeterContract, categorical_kl, summarise
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_testing.onnx_models import make_onnx_meter_policy, make_onnx_policy
from redraw_testing.scenes import jpeg, road_frame

FRAME = jpeg(road_frame())
G, K = 4, 3
POSTERIOR = np.array([0.7, 0.15, 0.15])
EXPECTED = G * float((POSTERIOR * np.log(POSTERIOR * K)).sum())  # the test file's prior stays uniform


def test_reading_is_the_categorical_kl_summed_over_groups():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(K), G), rng.dirichlet(np.ones(K), G)
    expected = sum(float((p[g] * np.log(p[g] / q[g])).sum()) for g in range(G))
    assert categorical_kl(np.log(p).ravel(), np.log(q).ravel()) == pytest.approx(expected, rel=1e-9)
    assert categorical_kl(np.log(p), np.log(p)) == pytest.approx(0.0, abs=1e-12)


def test_runner_reads_the_meter_every_control_period_and_carries_the_belief(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_meter_policy(tmp_path / "m.onnx", G, K)), meter_window=2)
    assert runner.meter is not None and runner.meter.contract.threshold == 0.1
    first = runner.step_jpeg(FRAME, now=10.0)
    assert first.reality_gap is None and first.ok  # nothing predicted the first frame
    assert runner.meter.inputs(10.1)["is_first"][0, 0] == 0.0
    belief = runner.meter.inputs(10.1)["prev_belief"]
    np.testing.assert_allclose(belief.reshape(G, K).sum(-1), 1.0, atol=1e-6)  # exp(prior): the next frame's belief
    second = runner.step_jpeg(FRAME, now=10.1)
    assert second.reality_gap == pytest.approx(EXPECTED, rel=1e-5)
    assert set(second.timings_ms) == {"preprocess", "inference", "meter"}
    assert runner.step_jpeg(FRAME, now=10.13).reality_gap is None  # 30 Hz camera: acted on, not metered
    assert runner.step_jpeg(FRAME, now=10.2).reality_gap == pytest.approx(EXPECTED, rel=1e-5)
    assert runner.step_jpeg(FRAME, now=11.0).reality_gap is None  # a gap: starts afresh, as the bag reader splits
    assert runner.meter.readings == 2 and runner.meter.average == pytest.approx(EXPECTED, rel=1e-5)
    assert runner.meter.above_threshold


def test_the_command_sent_is_carried_to_the_next_frame(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_meter_policy(tmp_path / "m.onnx", G, K)))
    runner.step_jpeg(FRAME, now=0.0, sent=np.array([0.5, -0.25]))
    np.testing.assert_array_equal(runner.meter.inputs(0.1)["prev_action"], [[0.5, -0.25]])
    runner.meter.reset()
    runner.step_jpeg(FRAME, now=0.2)  # a driving robot: its own command
    np.testing.assert_allclose(runner.meter.inputs(0.3)["prev_action"], [[0.3, 0.1]], atol=1e-6)


def test_moving_average_and_threshold():
    meter = GapMeter(MeterContract(G, K, 2, threshold=1.0), window=2)
    outputs = {"z": np.zeros((1, G * K)), "posterior": np.log(np.full((1, G * K), 1.0 / K)),
               "prior": np.log(np.full((1, G * K), 1.0 / K))}
    meter.inputs()
    assert meter.record(outputs, np.zeros(2)) is None and meter.average is None and not meter.above_threshold
    meter.inputs()
    assert meter.record(outputs, np.zeros(2)) == pytest.approx(0.0)
    assert not meter.above_threshold
    assert summarise([1.0, 2.0, 3.0])["gap_mean"] == 2.0 and summarise([])["gap_mean"] is None


def test_old_single_output_files_drive_without_the_meter(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_policy(tmp_path / "p.onnx")))
    command = runner.step_jpeg(FRAME, now=0.0)
    assert runner.policy.meter is None and runner.meter is None and command.ok and command.reality_gap is None


def test_meter_off_on_a_meter_file_still_drives(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_meter_policy(tmp_path / "m.onnx")), meter=False)
    command = runner.step_jpeg(FRAME, now=0.0)
    assert runner.meter is None and command.ok and command.reality_gap is None
    np.testing.assert_allclose(command.action, [0.3, 0.1], atol=1e-6)


@pytest.mark.parametrize("broken, message", [
    ({"drop_output": "prior"}, r"names output 'prior' but the graph has no such output"),
    ({"contract": {"latent": [5, 3]}}, r"meter input 'prev_z' is \['N', 12\], expected \[N, 15\] for a 5x3 latent"),
    ({"contract": {"outputs": ["action", "z"]}}, r"does not list the meter output 'posterior'"),
    ({"contract": {"latent": "big"}}, r"metadata 'redraw.reality_gap' is malformed"),
    ({"contract": {"threshold": -1}}, r"field 'threshold' is -1.0, expected >= 0"),
])
def test_a_broken_meter_file_is_refused_naming_file_and_field(tmp_path, broken, message):
    path = make_onnx_meter_policy(tmp_path / "broken.onnx", G, K, **broken)
    with pytest.raises(ContractError, match=rf"broken.onnx: .*{message}"):
        OnnxPolicy(path)
