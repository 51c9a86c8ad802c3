"""audio_file_node: plays an audio file (any rate, any channels) onto `audio` in real time.

For demos and tests. The file is loaded and resampled to 16 kHz mono once, then published
in chunks on a wall-clock schedule (`speed` > 1 plays faster than real time), followed by
`trailing_silence_s` of silence so that a listening VAD sees the utterance end.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from std_msgs.msg import Header

from a2m_core.audio.io import SAMPLE_RATE_HZ, load_audio
from a2m_core.errors import InputError
from a2m_ros.messages import audio_chunk
from a2m_ros.msg import AudioChunk
from a2m_ros.node_tools import Ticker, declare, run

# After the publisher sees a subscriber, the subscriber's side of the match can lag by tens of
# milliseconds, and best-effort chunks sent in that window are lost: start a little later.
DISCOVERY_SETTLE_S = 0.25


class AudioFileNode(Node):
    def __init__(self, **node_options):
        """node_options: rclpy Node keywords (context, parameter_overrides, namespace, ...)."""
        super().__init__("audio_file_node", **node_options)
        path = declare(self, "path", "", "Audio file to play (WAV/FLAC/OGG, any rate and channel count)")
        self.chunk_s = declare(self, "chunk_s", 0.1, "Seconds of audio per AudioChunk", 0.01, 1.0)
        self.speed = declare(self, "speed", 1.0, "Playback speed; 1 is real time", 0.1, 1000.0)
        self.loop = declare(self, "loop", False, "Play the file again and again instead of exiting at its end")
        silence_s = declare(self, "trailing_silence_s", 1.0, "Silence published after the file, so a VAD sees the end", 0.0, 10.0)
        self.wait_for_subscriber_s = declare(self, "wait_for_subscriber_s", 10.0,
                                             "Wait this long for `subscribers` subscribers on `audio` before playing",
                                             0.0, 600.0)
        self.subscribers = declare(self, "subscribers", 1,
                                   "Play once this many subscribers have matched `audio` (e.g. 2: the motion node and "
                                   "a recorder), or when wait_for_subscriber_s has passed", 1, 100)
        self.encoding = declare(self, "encoding", AudioChunk.ENCODING_INT16, "Sample encoding on the wire",
                                choices=(AudioChunk.ENCODING_INT16, AudioChunk.ENCODING_FLOAT32))
        self.frame_id = declare(self, "frame_id", "audio_file", "frame_id in the chunks' headers")
        max_duration_s = declare(self, "max_duration_s", 3600.0, "Longest file played, in seconds (held in memory: "
                                 "64 kB per second)", 1.0, 86400.0)
        if not path:
            raise InputError("parameter `path` is empty: give the audio file, e.g. --ros-args -p path:=speech.wav")
        try:
            audio = load_audio(path, max_duration_s=max_duration_s)
        except InputError as exc:
            raise InputError(f"{exc} (audio_file_node: raise its parameter max_duration_s)") from None
        for warning in audio.warnings:
            self.get_logger().warning(warning)
        self.samples = np.concatenate([audio.samples, np.zeros(int(silence_s * SAMPLE_RATE_HZ), np.float32)])
        self.chunk_len = max(1, round(self.chunk_s * SAMPLE_RATE_HZ))
        self.publisher = self.create_publisher(AudioChunk, "audio", qos_profile_sensor_data)
        self.finished = Future()
        self._created = time.monotonic()
        self._matched: float | None = None  # when the expected subscribers were first all there
        self._start: float | None = None
        self._position = 0
        self.get_logger().info(f"playing {path} ({audio.duration_s:.2f} s) at {self.speed:g}x")
        self._ticker = Ticker(min(0.01, self.chunk_s / self.speed / 2), self._tick, "a2m-file-player", self)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._start is None:
            if self._matched is None:
                if (self.publisher.get_subscription_count() < self.subscribers
                        and now - self._created < self.wait_for_subscriber_s):
                    return
                self._matched = now
            if now - self._matched < DISCOVERY_SETTLE_S:
                return
            self._start = now
        due = int((now - self._start) * self.speed * SAMPLE_RATE_HZ)  # samples that should have been sent by now
        while self._position + self.chunk_len <= due or (self._position < due and due >= len(self.samples)):
            chunk = self.samples[self._position:self._position + self.chunk_len]
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
            self.publisher.publish(audio_chunk(chunk, SAMPLE_RATE_HZ, header, self.encoding))
            self._position += len(chunk)
            if self._position >= len(self.samples):
                if not self.loop:
                    self.get_logger().info("end of file")
                    self._ticker.stop()
                    self.finished.set_result(0)
                    return
                self._position, self._start = 0, now
                due = 0


    def destroy_node(self) -> None:
        self._ticker.stop()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return run(AudioFileNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
