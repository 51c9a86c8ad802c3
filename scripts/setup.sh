#!/usr/bin/env bash
# Sets up everything a2m needs on a Debian machine, idempotently:
# Debian packages, a .venv with torch==2.13.0 (CPU) and the project installed editable.
# A second run checks stamps and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
APT_PACKAGES="ffmpeg sox espeak-ng festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins cmake g++
  liburdfdom-tools"  # liburdfdom-tools: check_urdf, the C++ URDF parser robot_state_publisher uses, for the avatar test

say() { printf '[setup] %s\n' "$*"; }

missing=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "[setup] error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi

# torch first and pinned: it resolves to the local CPU wheel; an open range pulls GBs of CUDA.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  say "installing torch==2.13.0"
  "$VENV/bin/pip" install -q torch==2.13.0
fi

stamp="$VENV/.a2m-setup-stamp"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing a2m and its dependencies into $VENV"
  "$VENV/bin/pip" install -q -e ".[model,audio,text,ros,dev,retarget]"
  echo "$want" > "$stamp"
fi
# --- ROS 2 interfaces of a2m_ros (msg/, action/) built into the venv; own stamp, ~13 s first time.
VENV="$VENV" bash scripts/build_ros_interfaces.sh
# --- end ROS 2 interfaces

say "ready: $VENV"
