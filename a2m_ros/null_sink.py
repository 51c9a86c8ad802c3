"""A microphone without a sound card: a PulseAudio null sink whose monitor is the default source.

PulseAudio runs as a plain user process with its socket in a folder of the caller's; WAVs played
into the sink `vsink` (paplay, real time) come out of the source `vmic`, which PortAudio's ALSA
`pulse` device records when PULSE_SERVER names the socket. Used by `a2m ros soak --mic` and the
microphone tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 20.0
NEEDED = {"pulseaudio": "pulseaudio", "pactl": "pulseaudio-utils", "paplay": "pulseaudio-utils"}


def pulseaudio_missing() -> str | None:
    """Why no null sink can run here (a program missing), or None when it can."""
    missing = [program for program in NEEDED if shutil.which(program) is None]
    if not missing:
        return None
    packages = sorted({NEEDED[program] for program in missing})
    return (f"PulseAudio is not available ({', '.join(missing)} not found): install the Debian packages "
            f"{' '.join(packages)} and libasound2-plugins (scripts/setup.sh does)")


class NullSink:
    """PulseAudio with a null sink `vsink` whose monitor is remapped as the default source `vmic`."""

    def __init__(self, folder: Path):
        self.socket = folder / "native"
        self.log = folder / "pulse.log"
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """The value for PULSE_SERVER."""
        return f"unix:{self.socket}"

    def start(self) -> None:
        """Start the server; RuntimeError (naming its log) when it does not answer within START_TIMEOUT_S."""
        self.socket.unlink(missing_ok=True)  # left behind by a killed server
        folder = str(self.socket.parent)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
                 "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
                 "-L", "module-null-sink sink_name=vsink rate=16000 channels=1 format=s16le",
                 "-L", "module-remap-source source_name=vmic master=vsink.monitor"],
                env=dict(os.environ, HOME=folder, XDG_RUNTIME_DIR=folder), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PulseAudio did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        subprocess.run(["pactl", "--server", self.address, "set-default-source", "vmic"], check=True)

    def _answers(self) -> bool:
        return subprocess.run(["pactl", "--server", self.address, "info"], capture_output=True).returncode == 0

    def play(self, wav: Path) -> subprocess.Popen:
        """Play `wav` into the sink in real time; the returned process exits when it has been played."""
        return subprocess.Popen(["paplay", "--server", self.address, "--device=vsink", str(wav)])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
