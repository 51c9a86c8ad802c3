"""microphone_node: a sound card input -> 16 kHz mono AudioChunks on `audio`.

Records at the device's own rate (any rate a card offers), resamples to 16 kHz mono and
publishes with sensor-data QoS. When the device is missing, or disappears while recording,
the node logs which input devices exist and retries every `retry_s` seconds.
"""

from __future__ import annotations

import queue

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Header

from a2m_core.audio.io import SAMPLE_RATE_HZ, StreamResampler, to_mono
from a2m_ros.messages import audio_chunk
from a2m_ros.msg import AudioChunk
from a2m_ros.node_tools import Ticker, declare, run

MAX_PENDING_BLOCKS = 100  # blocks the sound thread may queue before the oldest are dropped


class MicrophoneNode(Node):
    def __init__(self, **node_options):
        """node_options: rclpy Node keywords (context, parameter_overrides, namespace, ...)."""
        super().__init__("microphone_node", **node_options)
        self.device = declare(self, "device", "", "Input device: its name (or part of it) or index; empty: the default input")
        self.chunk_s = declare(self, "chunk_s", 0.05, "Seconds of audio per AudioChunk", 0.01, 1.0)
        self.gain = declare(self, "gain", 1.0, "Linear gain applied before publishing", 0.0, 100.0)
        self.device_rate = declare(self, "device_rate_hz", 0, "Recording rate; 0: the device's default rate", 0, 384000)
        self.channels = declare(self, "channels", 1, "Channels to record (averaged to mono)", 1, 32)
        self.retry_s = declare(self, "retry_s", 2.0, "Seconds between attempts to open a missing device", 0.1, 60.0)
        self.encoding = declare(self, "encoding", AudioChunk.ENCODING_INT16, "Sample encoding on the wire",
                                choices=(AudioChunk.ENCODING_INT16, AudioChunk.ENCODING_FLOAT32))
        self.frame_id = declare(self, "frame_id", "microphone", "frame_id in the chunks' headers")
        self.publisher = self.create_publisher(AudioChunk, "audio", qos_profile_sensor_data)
        self._blocks: queue.Queue[np.ndarray] = queue.Queue(MAX_PENDING_BLOCKS)
        self._stream = None
        self._resampler: StreamResampler | None = None
        self._overflows = 0
        self.create_timer(self.retry_s, self._ensure_stream)
        self._ensure_stream()
        self._publisher_ticker = Ticker(self.chunk_s / 2, self._publish_pending, "a2m-microphone", self)

    # Runs on PortAudio's thread: copy and hand over, nothing else.
    def _on_block(self, block: np.ndarray, frames: int, time_info, status) -> None:
        if status.input_overflow:
            self._overflows += 1
        try:
            self._blocks.put_nowait(block.copy())  # (n c)
        except queue.Full:
            self._overflows += 1

    def _ensure_stream(self) -> None:
        """Open the device if no stream is running (first start, device missing, device gone)."""
        import sounddevice as sd

        if self._stream is not None and self._stream.active:
            return
        if self._stream is not None:
            self.get_logger().error("the input device stopped delivering audio; reopening it")
            self._close_stream()
            sd._terminate()  # PortAudio lists devices once per initialisation: rescan to see it again
            sd._initialize()
        try:
            device = self._device_spec()
            rate = self.device_rate or int(sd.query_devices(device, "input")["default_samplerate"])
            stream = sd.InputStream(device=device, samplerate=rate, channels=self.channels, dtype="float32",
                                    blocksize=max(1, round(self.chunk_s * rate)), callback=self._on_block)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            inputs = [f"{i}: {d['name']}" for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
            self.get_logger().error(
                f"cannot open input device {self.device or '(default)'!r}: {exc}; inputs present: "
                f"{'; '.join(inputs) or 'none'}; set the parameter device; retrying in {self.retry_s:g} s",
                throttle_duration_sec=30.0)
            sd._terminate()
            sd._initialize()
            return
        self._stream, self._resampler = stream, StreamResampler(rate, SAMPLE_RATE_HZ)
        self.get_logger().info(f"recording from {sd.query_devices(stream.device)['name']!r} at {rate} Hz, "
                               f"{self.channels} channel(s) -> 16 kHz mono on {self.publisher.topic_name}")

    def _device_spec(self):
        return int(self.device) if self.device.isdigit() else (self.device or None)

    def _publish_pending(self) -> None:
        resampler = self._resampler  # _ensure_stream, on the executor, may replace it meanwhile
        if resampler is None:
            return
        blocks = []
        while True:
            try:
                blocks.append(self._blocks.get_nowait())
            except queue.Empty:
                break
        if self._overflows:
            self.get_logger().warning(f"{self._overflows} audio block(s) lost: the node could not keep up",
                                      throttle_duration_sec=5.0)
            self._overflows = 0
        if not blocks:
            return
        samples = resampler.push(to_mono(np.concatenate(blocks)) * self.gain)  # (n) 16 kHz
        if len(samples):
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
            self.publisher.publish(audio_chunk(samples, SAMPLE_RATE_HZ, header, self.encoding))

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # noqa: BLE001 - the device may already be gone
                pass
            self._stream = None

    def destroy_node(self) -> None:
        self._publisher_ticker.stop()
        self._close_stream()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return run(MicrophoneNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
