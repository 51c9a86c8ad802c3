#!/usr/bin/env bash
# Builds the a2m_ros interfaces (msg/, action/) into a venv with the ROS 2 pip wheels, so that
# `import a2m_ros.msg` works without a ROS install. Called by scripts/setup.sh; safe to rerun:
# a stamp keyed on the interface sources returns at once when nothing changed.
#
# The venv gets only the generated code and a2m_ros/__init__.py (A2M_INSTALL_PYTHON_SOURCES=OFF):
# `pip install -e .` already provides the Python sources, and a2m_ros.pkg points the installed
# a2m_ros package at the checkout's a2m_ros/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=$(cd "${VENV:-.venv}" && pwd)
PYBIN="$VENV/bin/python"
BUILD=build_ros   # not build/: pip writes there
LOG=$BUILD/a2m-build.log
say() { printf '[setup:ros] %s\n' "$*"; }

stamp="$VENV/.a2m-ros-interfaces-stamp"
want=$(cat CMakeLists.txt package.xml msg/*.msg action/*.action scripts/build_ros_interfaces.sh \
  | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$PYBIN" -c "import a2m_ros.msg" 2>/dev/null; then
  exit 0
fi

if ! "$PYBIN" -c "import rclpy" 2>/dev/null; then
  say "rclpy is not installed in $VENV (pip extra 'ros'): skipping the a2m_ros interfaces"
  exit 0
fi

say "installing the ROS build tools (pip)"
"$VENV/bin/pip" install -q ros-kilted-ament-cmake ros-kilted-rosidl-default-generators \
  ros-ament-package ros-ament-cmake-include-directories ros-rosidl-core-generators \
  ros-ament-cmake-ros-core catkin-pkg

# The wheels were built under /opt/python/cp3XX-cp3XX: point their exported CMake files at
# this interpreter's include folders, then check that no such path is left.
PYINC=$("$PYBIN" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$PYBIN" -c "import numpy; print(numpy.get_include())")
{ grep -rlE "/opt/python/cp3[0-9]+-cp3[0-9]+" "$VENV/share" --include='*.cmake' || true; } | xargs -r sed -i -E \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g" \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g"
if left=$(grep -rlE "/opt/python/cp3[0-9]+-cp3[0-9]+/(include|lib)" "$VENV/share" --include='*.cmake'); then
  say "error: these CMake files still name the wheel build machine's Python: $left" >&2
  exit 1
fi

say "building the a2m_ros interfaces into $VENV ($BUILD/)"
mkdir -p "$BUILD"
export AMENT_PREFIX_PATH="$VENV"
cmake -S . -B "$BUILD" -Wno-dev -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$PYBIN" -DA2M_INSTALL_PYTHON_SOURCES=OFF -DBUILD_TESTING=OFF >"$LOG" 2>&1 \
  || { tail -30 "$LOG" >&2; say "error: cmake configure failed, log: $LOG" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" >>"$LOG" 2>&1 \
  || { tail -30 "$LOG" >&2; say "error: build failed, log: $LOG" >&2; exit 1; }
cmake --install "$BUILD" >>"$LOG" 2>&1
"$PYBIN" -c "from a2m_ros.msg import AudioChunk, MotionStatus; from a2m_ros.action import GenerateMotion"
echo "$want" > "$stamp"
say "a2m_ros interfaces ready"
