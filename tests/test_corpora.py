"""The development benchmark's corpora (benchmarks/corpora.py): the rule that screens out
clips without their signal, the noise scenes, the steady noise's rule, and the split of a
small corpus's files."""
from pathlib import Path

import numpy as np
import soundfile as sf

import audio
from benchmarks.corpora import (LINES, STEADY_SPREAD_DB, active_seconds, has_signal, join_scenes,
                                level_spread_db, looped, split_signals, trimmed)

SPEECH = Path(__file__).parent / "data" / "speech_arctic_a0007.wav"
RATE = 16000


def test_a_silence_prompt_is_screened_out_and_speech_is_kept(tmp_path):
    """Codec hiss at rms 1e-4 (an Asterisk silence prompt's level) holds no signal, even
    scaled up; real speech at a quiet -45 dBFS does."""
    hiss = np.random.default_rng(0).normal(0, 1e-4, 2 * RATE)
    speech = audio.read_audio(SPEECH, rate=16000)
    quiet = speech / np.sqrt(np.mean(speech ** 2)) * 10 ** (-45 / 20)
    sf.write(tmp_path / "silence.wav", hiss, RATE, subtype="FLOAT")
    sf.write(tmp_path / "speech.wav", quiet, RATE, subtype="FLOAT")
    assert active_seconds(hiss) == 0.0
    assert not has_signal(tmp_path / "silence.wav")
    assert has_signal(tmp_path / "speech.wav")
    assert 0.5 < active_seconds(quiet) <= len(quiet) / RATE


def test_trimming_drops_silent_run_in_and_run_out_only():
    tone = np.sin(np.arange(RATE) / 5) * 0.1
    gap = np.zeros(RATE // 2)
    wave = np.concatenate([gap, tone, gap, tone, gap])
    kept = trimmed(wave)
    assert len(kept) == 2 * RATE + len(gap)
    np.testing.assert_array_equal(kept, wave[len(gap):-len(gap)])


def test_scenes_join_whole_families_and_reach_the_length(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for name in ("Farm1", "Farm2", "Mill1", "Mill2", "Rail1", "Tip1"):
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], rng.normal(0, 0.1, 4 * RATE), RATE)
    out = tmp_path / "scenes"
    out.mkdir()
    scenes = join_scenes(files, lambda p: p.stem.rstrip("0123456789"), "city", out,
                         scene_s=7.0)
    assert [p.name for p in scenes] == ["city_00_Farm.wav", "city_01_Mill.wav",
                                        "city_02_Rail-Tip.wav"]
    assert all(sf.info(p).duration == 8.0 for p in scenes)


def test_a_small_corpus_is_split_before_its_files_repeat():
    files = [Path(f"call_{i:02d}.wav") for i in range(40)]
    parts = split_signals(files)
    assert {split: len(paths) for split, paths in parts.items()} == LINES
    distinct = {split: set(paths) for split, paths in parts.items()}
    assert not distinct["train"] & distinct["val"] and not distinct["test"] & distinct["train"]
    assert not distinct["val"] & distinct["test"]
    assert set().union(*distinct.values()) == set(files)
    large = split_signals([Path(f"s{i}.wav") for i in range(300)])
    assert all(len(set(paths)) == LINES[split] for split, paths in large.items())


def test_steady_noise_holds_its_level_and_a_rising_wind_does_not():
    rng = np.random.default_rng(0)
    hiss = rng.normal(0, 0.1, 10 * RATE)
    rising = hiss * np.repeat(10 ** (np.linspace(-12, 0, 10) / 20), RATE)  # +12 dB in 10 s
    assert level_spread_db(hiss) < 0.5
    assert level_spread_db(rising) > STEADY_SPREAD_DB


def test_a_loop_plays_over_and_over_until_it_is_long_enough():
    loop = np.arange(3 * RATE, dtype=float)
    wave = looped(loop, 7.5)
    assert len(wave) == 9 * RATE
    np.testing.assert_array_equal(wave[3 * RATE:6 * RATE], loop)
