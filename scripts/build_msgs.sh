#!/usr/bin/env bash
# Build the workspace's ROS 2 interface package (src/duckietown_msgs) into the venv with the ROS 2 Jazzy
# build wheels from PyPI (rosidl generators, ament_cmake) and Debian's cmake/gcc, so rclpy here publishes
# and subscribes the real Duckietown types. The robot image builds the same package with colcon.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(cd "${REDRAW_VENV:-.venv}" && pwd)"
PY="$VENV/bin/python3"

# The wheels' exported CMake files name the wheel builder's Python and numpy include directories
# (/opt/python/cp311-cp311/...); point them at this venv's before configuring.
py_include=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
np_include=$("$PY" -c "import numpy; print(numpy.get_include())")
for f in "$VENV"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake; do
  grep -q "/opt/python/" "$f" || continue
  sed -i -E "s#/opt/python/[^;\"]*/include/python3\.[0-9]+#${py_include}#g; s#/opt/python/[^;\"]*/numpy/_core/include#${np_include}#g" "$f"
done

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
export PATH="$VENV/bin:$PATH"
cmake -S src/duckietown_msgs -B "$build" -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DCMAKE_BUILD_TYPE=Release >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; echo "build_msgs: cmake configure failed"; exit 1; }
cmake --build "$build" -j2 >"$build/build.log" 2>&1 || { tail -50 "$build/build.log"; echo "build_msgs: build failed"; exit 1; }
cmake --install "$build" >/dev/null
"$PY" -c "from duckietown_msgs.msg import WheelsCmdStamped, Twist2DStamped, BoolStamped" \
  || { echo "build_msgs: duckietown_msgs built but does not import"; exit 1; }
echo "build_msgs: duckietown_msgs installed into $VENV"
