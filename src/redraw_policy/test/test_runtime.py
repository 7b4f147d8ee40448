"""Policy runtime: real onnxruntime on real ONNX files; contracts checked, unsafe outputs stopped."""

import numpy as np
import pytest

from redraw_perception import ContractError, PreprocessConfig, PreprocessError
from redraw_policy.kinematics import KinematicsConfig
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_testing.onnx_models import make_onnx_policy
from redraw_testing.scenes import jpeg, road_frame


def test_jpeg_to_command_uses_model_and_stored_kinematics(tmp_path):
    model = make_onnx_policy(tmp_path / "p.onnx", scale=(1.0, 0.0), bias=(0.0, 0.25))
    runner = PolicyRunner(OnnxPolicy(model))
    data = jpeg(road_frame())
    command = runner.step_jpeg(data)
    expected_forward = runner.policy.preprocessor.from_jpeg(data).mean() / 255.0
    assert command.ok
    np.testing.assert_allclose(command.action, [expected_forward, 0.25], rtol=1e-5)
    assert command.v == pytest.approx(expected_forward * 0.5, rel=1e-5)  # v_max 0.5 from the model's metadata
    assert command.omega == pytest.approx(1.0)  # 0.25 * omega_max 4.0
    assert command.wheels[1] > command.wheels[0]
    assert set(command.timings_ms) == {"preprocess", "inference"}


def test_nan_output_gives_a_zero_command_with_an_error(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_policy(tmp_path / "nan.onnx", nan=True)))
    command = runner.step_jpeg(jpeg(road_frame()))
    assert not command.ok and "not a finite" in command.error
    assert command.v == command.omega == 0.0 and command.wheels == (0.0, 0.0)


def test_actions_are_clamped(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_policy(tmp_path / "big.onnx", scale=(0, 0), bias=(7.0, -3.0))),
                          KinematicsConfig(v_max=0.5, omega_max=4.0))
    command = runner.step_jpeg(jpeg(road_frame()))
    assert command.action.tolist() == [1.0, -1.0] and command.v == 0.5 and command.omega == -4.0


def test_model_trained_on_other_pixels_is_refused(tmp_path):
    model = make_onnx_policy(tmp_path / "crop.onnx", preprocess=PreprocessConfig(crop_top=0.4))
    with pytest.raises(ContractError, match=r"crop\.onnx: preprocessing field 'crop_top' is 0\.4"):
        OnnxPolicy(model, preprocess=PreprocessConfig())


def test_model_without_metadata_is_refused(tmp_path):
    model = make_onnx_policy(tmp_path / "bare.onnx", drop_metadata=("redraw.preprocess",))
    with pytest.raises(ContractError, match="bare.onnx: model metadata lacks 'redraw.preprocess'"):
        OnnxPolicy(model)


def test_model_with_an_empty_preprocessing_record_is_refused(tmp_path):
    model = make_onnx_policy(tmp_path / "empty.onnx", metadata={"redraw.preprocess": None})
    with pytest.raises(ContractError, match="empty.onnx: model metadata 'redraw.preprocess' is None, expected a mapping"):
        OnnxPolicy(model)


def test_model_with_a_wrong_input_size_is_refused(tmp_path):
    model = make_onnx_policy(tmp_path / "wrong.onnx", preprocess=PreprocessConfig(out_width=32, out_height=32),
                             metadata={"redraw.preprocess": PreprocessConfig().to_dict()})
    with pytest.raises(ContractError, match="wrong.onnx: inputs are .* expected a uint8 image \\[N, 64, 64, 3\\]"):
        OnnxPolicy(model)


def test_missing_and_corrupt_model_files_are_named(tmp_path):
    with pytest.raises(ContractError, match="absent.onnx: no such model file"):
        OnnxPolicy(tmp_path / "absent.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    with pytest.raises(ContractError, match="broken.onnx: cannot load ONNX model"):
        OnnxPolicy(broken)


def test_bad_frame_raises_preprocess_error(tmp_path):
    runner = PolicyRunner(OnnxPolicy(make_onnx_policy(tmp_path / "p.onnx")))
    with pytest.raises(PreprocessError):
        runner.step_jpeg(b"\xff\xd8 truncated")
