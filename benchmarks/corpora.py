"""The development benchmark's corpora: real signals in real noise, from Debian packages.

Each corpus is built on demand (``apt-get download``, nothing of it goes into git) and is
the same on every machine. They differ in the signal, the voices, the recording chain and
the noise family:

===================  ==========================================  ===========================
corpus               signal                                      noise
===================  ==========================================  ===========================
``prompts_ambience`` Asterisk prompts, 4 professional voices     0 A.D.'s 42 ambience field
                     (en, es, fr, it), 16 kHz G.722              recordings (weather, water,
                     (``asterisk-core-sounds-*-g722``)           birds, a port, a market)
``gsm_city``         two other voices (Colombian Spanish,        LinCity-NG's city sounds:
                     French) through the 8 kHz GSM 06.10 codec   industry, traffic, trains,
                     (``asterisk-prompt-es-co``,                 crowds, building sites
                     ``asterisk-prompt-fr-armelle``)             (``lincity-ng-data``)
``animal_calls``     not speech: 0 A.D.'s animal calls (cattle,  Extreme Tux Racer's music
                     horses, camels, goats, pigs, elephants,     and its snow, ice, mud and
                     birds; ``0ad-data``), 1 s clips             leaf slide textures
                                                                 (``extremetuxracer-data``)
``italian_engines``  two Italian voices (Marco Menardi, Paola    noise that lives low:
                     Dal Zot) as 8 kHz PCM prompts               FlightGear's engines,
                     (``asterisk-prompt-it-menardi-wav``)        propellers, exhausts,
                                                                 rumble and thunder, each
                                                                 with at least half its
                                                                 energy below 300 Hz
                                                                 (``flightgear-data-base``)
``prompts_steady``   the Asterisk prompts of                     steady noise: Red Eclipse's
                     ``prompts_ambience``, so the two differ     ambience and SuperTuxKart's
                     in the noise alone                          loops whose level holds
                                                                 within 3 dB (wind, rain,
                                                                 waterfalls, a river,
                                                                 insects, a ship's hum),
                                                                 each looped to 20 s
                                                                 (``redeclipse-data``,
                                                                 ``supertuxkart-data``)
===================  ==========================================  ===========================

No clip that lacks its signal is kept: a rule (``has_signal``: at least ``MIN_ACTIVE_S``
of 20 ms frames above ``ACTIVE_FLOOR_DBFS`` and within ``ACTIVE_RANGE_DB`` of the loudest)
screens out silence prompts and near-silent takes, whatever their names.

Short noise files are joined into scenes of at least ``SCENE_S`` (LinCity's sounds of a
few seconds each, in name order, so a scene holds related sources), so that the paper's
protocol can take test excerpts from the last tenth of every file.

Both protocols as in ``benchmarks/real_audio.py`` (``seen``: test excerpts from the last
tenth of each noise file of at least 20 s; ``unseen``: every fourth noise file is a test
file), and each again with validation lines whose noise files training never reads
(``{seen,unseen}_heldval_{train,val}_set.txt``: every ``VAL_NOISE_EVERY``-th training
noise file held out; the test lines are the protocol's). 130 training, 20 validation and
50 test lines; the signal files are split into training, validation and test files
first, and a corpus with fewer than 200 files lists its files more than once (each time
with another noise excerpt and SNR).
"""
from __future__ import annotations

import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import audio  # noqa: E402
from benchmarks.real_audio import (NOISE_PACKAGE, SEEN_MIN_NOISE_S, SPEECH_PACKAGES,  # noqa: E402
                                   decode_0ad, decode_ambience, decode_speech, fetch, link_all)
from create_config_files import (AudioFile, files_on_disk, make_config_lines,  # noqa: E402
                                 write_config_files)

FRAME_S = 0.02
ACTIVE_FLOOR_DBFS = -60.0
ACTIVE_RANGE_DB = 40.0
MIN_ACTIVE_S = 0.15
SCENE_S = 24.0
MIN_NOISE_S = 1.0
LINES = {"train": 130, "val": 20, "test": 50}
VAL_NOISE_EVERY = 6
"""Every sixth training noise file is held out for validation in the ``*_heldval_*`` files."""
HELD_OUT_VAL = "heldval"
CORPORA_VERSION = "2"
CORPUS_RATE = audio.DEFAULT_RATE
"""Hz of the development corpora's files (the full-band corpus has its own)."""


def frame_levels_db(wave: np.ndarray, frame: int) -> np.ndarray:
    """(N,) mean-square levels in dB (full scale 1) of (T,) ``wave``'s whole frames of
    ``frame`` samples."""
    frames = wave[:len(wave) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


def active_seconds(wave: np.ndarray, rate: int = CORPUS_RATE) -> float:
    """Seconds of 20 ms frames of (T,) ``wave`` (full scale 1) that are above
    ``ACTIVE_FLOOR_DBFS`` and within ``ACTIVE_RANGE_DB`` of the loudest frame."""
    level_db = frame_levels_db(wave, int(FRAME_S * rate))
    if not len(level_db):
        return 0.0
    active = (level_db > ACTIVE_FLOOR_DBFS) & (level_db > level_db.max() - ACTIVE_RANGE_DB)
    return float(active.sum() * FRAME_S)


def trimmed(wave: np.ndarray, rate: int = CORPUS_RATE) -> np.ndarray:
    """(T,) ``wave`` without its leading and trailing 20 ms frames below
    ``ACTIVE_FLOOR_DBFS`` (a track's silent run-in and run-out)."""
    frame = int(FRAME_S * rate)
    levels = [np.mean(wave[i:i + frame] ** 2) for i in range(0, len(wave), frame)]
    loud = np.flatnonzero(10 * np.log10(np.array(levels) + 1e-20) > ACTIVE_FLOOR_DBFS)
    return wave[loud[0] * frame:(loud[-1] + 1) * frame] if len(loud) else wave[:0]


def has_signal(path: Path) -> bool:
    """Whether the file holds at least ``MIN_ACTIVE_S`` of active signal."""
    return active_seconds(audio.read_audio(path, rate=CORPUS_RATE)) >= MIN_ACTIVE_S


def decode_gsm(deb: Path, label: str, out: Path) -> list[Path]:
    """8 kHz WAV files of the package's raw GSM 06.10 prompts of at least 1 s."""
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        for gsm in sorted(Path(tmp).rglob("*.gsm")):
            wave, rate = sf.read(gsm, format="RAW", subtype="GSM610", samplerate=8000,
                                 channels=1, dtype="int16")
            if len(wave) >= rate:
                path = out / f"{label}_{gsm.parent.name}_{gsm.stem}.wav"
                sf.write(path, wave, rate)
                paths.append(path)
    return paths


def join_scenes(files: list[Path], family: Callable[[Path], str], prefix: str, out: Path,
                scene_s: float = SCENE_S) -> list[Path]:
    """16 kHz scenes of at least ``scene_s``: ``files`` of at least ``MIN_NOISE_S``, in
    order, whole families at a time; a last scene shorter than ``scene_s`` is dropped."""
    paths, scene, families = [], [], []

    def close_scene() -> None:
        if sum(map(len, scene)) >= scene_s * CORPUS_RATE:
            paths.append(out / f"{prefix}_{len(paths):02d}_{'-'.join(families)}.wav")
            sf.write(paths[-1], np.concatenate(scene), CORPUS_RATE, subtype="FLOAT")
            scene.clear()
            families.clear()

    for path in files:
        wave = trimmed(audio.read_audio(path, rate=CORPUS_RATE))
        if len(wave) < MIN_NOISE_S * CORPUS_RATE:
            continue
        if family(path) not in families:
            close_scene()
            families.append(family(path))
        scene.append(wave)
    close_scene()
    return paths


def extracted(deb: Path, tmp: str, pattern: str) -> list[Path]:
    subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
    return sorted(Path(tmp).glob(pattern))


def extract_members(deb: Path, tmp: str, patterns: tuple[str, ...]) -> None:
    """Only the files of ``deb`` that match the tar ``patterns``, into ``tmp`` (a large
    package's few sounds without unpacking it whole)."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as tar_stream:
        subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", *patterns],
                       stdin=tar_stream.stdout, check=True)


def asterisk_prompts(debs: Path, out: Path) -> list[Path]:
    return [path for lang, package in SPEECH_PACKAGES.items()
            for path in decode_speech(fetch(debs, package), lang, out)]


def gsm_voices(debs: Path, out: Path) -> list[Path]:
    return (decode_gsm(fetch(debs, "asterisk-prompt-es-co"), "esco", out)
            + decode_gsm(fetch(debs, "asterisk-prompt-fr-armelle"), "frarmelle", out))


def city_scenes(debs: Path, out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        sounds = extracted(fetch(debs, "lincity-ng-data"), tmp, "usr/share/**/sounds/*.wav")
        return join_scenes(sounds, lambda p: re.sub(r"\d+$", "", p.stem), "city", out)


def ambience(debs: Path, out: Path) -> list[Path]:
    return decode_ambience(fetch(debs, NOISE_PACKAGE), out)


def animal_calls(debs: Path, out: Path) -> list[Path]:
    return decode_0ad(fetch(debs, NOISE_PACKAGE), "audio/actor/fauna/", out)


def tux_racer(debs: Path, out: Path) -> list[Path]:
    """The game's music tracks and one scene of its slide textures, 16 kHz mono."""
    with tempfile.TemporaryDirectory() as tmp:
        deb = fetch(debs, "extremetuxracer-data")
        music = extracted(deb, tmp, "usr/share/games/etr/music/*.ogg")
        paths = []
        for track in music:
            paths.append(out / f"music_{track.stem}.wav")
            sf.write(paths[-1], trimmed(audio.read_audio(track, rate=CORPUS_RATE)), CORPUS_RATE,
                     subtype="FLOAT")
        slides = sorted(Path(tmp).glob("usr/share/games/etr/sounds/*_slide.wav"))
        return paths + join_scenes(slides, lambda p: p.stem, "slides", out,
                                   scene_s=SEEN_MIN_NOISE_S)


LOW_HZ = 300.0
MIN_LOW_SHARE = 0.5
"""A noise of ``italian_engines`` keeps at least this share of its energy below ``LOW_HZ``."""


def low_share(wave: np.ndarray, rate: int = CORPUS_RATE) -> float:
    """The share of (T,) ``wave``'s energy below ``LOW_HZ``."""
    power = np.abs(np.fft.rfft(wave)) ** 2
    return float(power[np.fft.rfftfreq(len(wave), 1 / rate) < LOW_HZ].sum()
                 / max(power.sum(), 1e-20))


def menardi_voices(debs: Path, out: Path) -> list[Path]:
    """The Italian prompts of Marco Menardi and Paola Dal Zot (8 kHz PCM) of at least 1 s."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for prompt in extracted(fetch(debs, "asterisk-prompt-it-menardi-wav"), tmp,
                                "usr/share/asterisk/sounds/**/*.wav"):
            if sf.info(prompt).duration >= 1.0:
                paths.append(out / f"menardi_{prompt.parent.name}_{prompt.stem}.wav")
                shutil.copyfile(prompt, paths[-1])
        return paths


def engine_scenes(debs: Path, out: Path) -> list[Path]:
    """FlightGear's engine, propeller, exhaust, rotor, rumble and thunder sounds (the
    simulator's own and its Cessna 172's engines) with at least ``MIN_LOW_SHARE`` of their
    energy below ``LOW_HZ``, joined in name order into scenes of ``SEEN_MIN_NOISE_S``."""
    with tempfile.TemporaryDirectory() as tmp:
        extract_members(fetch(debs, "flightgear-data-base"), tmp,
                        ("*/flightgear/Sounds/*.wav", "*/c172p/Sounds/engine*.wav"))
        sounds = sorted((p for p in Path(tmp).rglob("*.wav") if p.parent.name == "Sounds"),
                        key=lambda p: p.name)  # not the spoken warnings in folders below
        low = [p for p in sounds
               if low_share(audio.read_audio(p, rate=CORPUS_RATE)) >= MIN_LOW_SHARE]
        return join_scenes(low, lambda p: p.stem, "engines", out, scene_s=SEEN_MIN_NOISE_S)


STEADY_SPREAD_DB = 3.0
"""A noise of ``prompts_steady`` holds its level within this many dB: the 90th minus the
10th percentile of its 1 s levels."""
STEADY_MIN_S = 8.0
STEADY_SOUNDS = {"redeclipse-data": ("*/redeclipse/data/sounds/ambience/*",),
                 "supertuxkart-data": ("*/supertuxkart/data/sfx/*_loop*.ogg",
                                       "*/supertuxkart/data/sfx/spaceship.ogg")}
"""Where the candidates lie in each package (SuperTuxKart's sound effects hold jingles too)."""


def level_spread_db(wave: np.ndarray, rate: int = CORPUS_RATE) -> float:
    """The 90th minus the 10th percentile, in dB, of (T,) ``wave``'s levels in 1 s windows."""
    level_db = frame_levels_db(wave, rate)
    return float(np.percentile(level_db, 90) - np.percentile(level_db, 10))


def looped(wave: np.ndarray, seconds: float, rate: int = CORPUS_RATE) -> np.ndarray:
    """(T,) ``wave`` played over and over (a game's ambience loop, as the game plays it)
    until it lasts at least ``seconds``."""
    return np.tile(wave, int(np.ceil(seconds * rate / len(wave))))


def steady_ambience(debs: Path, out: Path) -> list[Path]:
    """Red Eclipse's ambience and SuperTuxKart's sound loops that last at least
    ``STEADY_MIN_S`` and hold their level within ``STEADY_SPREAD_DB`` (wind, waterfalls,
    rain, a river, insects, a spaceship's hum), each once (some ship twice under two names),
    looped to ``SEEN_MIN_NOISE_S``, 16 kHz mono."""
    paths, heard = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for package, patterns in STEADY_SOUNDS.items():
            extract_members(fetch(debs, package), tmp, patterns)
        for sound in sorted(Path(tmp).rglob("*.ogg"), key=lambda p: p.name):
            wave = trimmed(audio.read_audio(sound, rate=CORPUS_RATE))
            samples = wave.tobytes()
            if (len(wave) < STEADY_MIN_S * CORPUS_RATE or samples in heard
                    or level_spread_db(wave) > STEADY_SPREAD_DB):
                continue
            heard.add(samples)
            paths.append(out / f"steady_{sound.stem}.wav")
            sf.write(paths[-1], looped(wave, SEEN_MIN_NOISE_S), CORPUS_RATE, subtype="FLOAT")
    return paths


@dataclass(frozen=True)
class CorpusRecipe:
    """How a corpus is made: its signal and noise files (built into a folder from the
    packages in a folder of .deb files) and its clip length in samples at its rate."""
    signal: Callable[[Path, Path], list[Path]]
    noise: Callable[[Path, Path], list[Path]]
    wav_len: int = 32000
    rate: int = CORPUS_RATE
    """Hz of its files, and of ``wav_len``'s samples."""


CORPORA = {
    "prompts_ambience": CorpusRecipe(asterisk_prompts, ambience),
    "gsm_city": CorpusRecipe(gsm_voices, city_scenes),
    "animal_calls": CorpusRecipe(animal_calls, tux_racer, wav_len=16000),
    "italian_engines": CorpusRecipe(menardi_voices, engine_scenes),
    "prompts_steady": CorpusRecipe(asterisk_prompts, steady_ambience),
}
FULL_BAND_RATE = 48000
FULL_BAND_MIN_RATE = 44100
"""The full-band corpus keeps only files recorded at this rate or more."""
FULL_BAND_NOISES = ("audio/ambient/dayscape/", "audio/ambient/weather/", "audio/ambient/water/")


def fauna_full_band(debs: Path, out: Path) -> list[Path]:
    return decode_0ad(fetch(debs, NOISE_PACKAGE), "audio/actor/fauna/animal/", out,
                      FULL_BAND_RATE, FULL_BAND_MIN_RATE)


def ambience_full_band(debs: Path, out: Path) -> list[Path]:
    return decode_0ad(fetch(debs, NOISE_PACKAGE), FULL_BAND_NOISES, out, FULL_BAND_RATE,
                      FULL_BAND_MIN_RATE)


FULL_BAND = {"fauna_full_band": CorpusRecipe(fauna_full_band, ambience_full_band,
                                             wav_len=FULL_BAND_RATE, rate=FULL_BAND_RATE)}
"""Corpora with energy above 8 kHz, at 48 kHz (``benchmarks/full_band.py``): 0 A.D.'s
animal calls (44.1 and 48 kHz recordings) in its day, weather and water ambience; not in
the four corpora that decide 16 kHz defaults."""


def split_signals(files: list[Path]) -> dict[str, list[Path]]:
    """Training, validation and test files in ``LINES``'s proportions, each listed as
    often as it takes to fill its lines (a fixed shuffle, seed 0)."""
    files = sorted(files)
    random.Random(0).shuffle(files)
    total = sum(LINES.values())
    counts = {split: max(1, round(len(files) * n / total)) if len(files) < total else n
              for split, n in LINES.items()}
    parts, start = {}, 0
    for split, count in counts.items():
        part = files[start:start + count]
        start += count
        parts[split] = [part[i % len(part)] for i in range(LINES[split])]
    return parts


def write_protocols(corpus: Path, signals: dict[str, list[Path]], noises: list[Path],
                    wav_len: int, rate: int = CORPUS_RATE) -> None:
    """``{seen,unseen}_{train,val,test}_set.txt`` in ``corpus``, paths relative to it, for
    clips of ``wav_len`` samples at ``rate``."""
    def relative(paths: list[Path]) -> list[str]:
        return [str(path.relative_to(corpus)) for path in paths]

    link_all([p for p in noises if sf.info(p).duration >= SEEN_MIN_NOISE_S], corpus / "seen")
    link_all([p for i, p in enumerate(noises) if i % 4 != 3], corpus / "unseen" / "train")
    link_all([p for i, p in enumerate(noises) if i % 4 == 3], corpus / "unseen" / "test")
    for split, paths in signals.items():
        link_all(sorted(set(paths)), corpus / "signal" / split)
    listed = {split: relative([corpus / "signal" / split / p.name for p in paths])
              for split, paths in signals.items()}

    def noise_files(folder: str) -> list[AudioFile]:
        return [AudioFile(str(Path(f.path).relative_to(corpus)), f.duration_s)
                for f in files_on_disk(str(corpus / folder / "*.wav"))]

    for protocol, (train_noise, test_noise) in {
            "seen": (noise_files("seen"), None),
            "unseen": (noise_files("unseen/train"), noise_files("unseen/test"))}.items():
        lines = make_config_lines(listed["train"], listed["test"], train_noise, 0,
                                  wav_len / rate, 0, test_noise, listed["val"])
        write_config_files(protocol, dict(zip(("train", "val", "test"), lines)), corpus)
        held = train_noise[VAL_NOISE_EVERY - 1::VAL_NOISE_EVERY]
        lines = make_config_lines(listed["train"], listed["test"],
                                  [f for f in train_noise if f not in held], 0,
                                  wav_len / rate, 0, test_noise, listed["val"], held)
        write_config_files(f"{protocol}_{HELD_OUT_VAL}", dict(zip(("train", "val"), lines)),
                           corpus)


def silent_excerpts(corpus: Path, wav_len: int, rate: int = CORPUS_RATE) -> list[str]:
    """``FILE:LINE`` of every config line of ``corpus`` whose noise excerpt (or extra
    noise excerpt) is silent, which ``pulse.py`` would refuse."""
    silent = []
    for fname in sorted(corpus.glob("*_set.txt")):
        for number, line in enumerate(fname.read_text().splitlines(), 1):
            fields = shlex.split(line)
            excerpts = [fields[1:3]] + ([fields[4:6]] if len(fields) > 4 else [])
            for noise, start_s in excerpts:
                excerpt = audio.read_excerpt(corpus / noise, float(start_s), wav_len, rate=rate)
                if excerpt.std() < 1e-6:
                    silent.append(f"{fname.name}:{number}")
    return silent


def build(data: Path, name: str) -> Path:
    """The corpus folder ``data/corpora_vN/name`` with both protocols, built once."""
    corpus = data / f"corpora_v{CORPORA_VERSION}" / name
    if (corpus / "READY").exists():
        return corpus
    if corpus.exists():
        shutil.rmtree(corpus)
    print(f"building the corpus {name} ...", flush=True)
    recipe = {**CORPORA, **FULL_BAND}[name]
    for folder in ("signal_all", "noise_all"):
        (corpus / folder).mkdir(parents=True)
    found = recipe.signal(data / "debs", corpus / "signal_all")
    signals = [path for path in found if has_signal(path)]
    noises = recipe.noise(data / "debs", corpus / "noise_all")
    write_protocols(corpus, split_signals(signals), noises, recipe.wav_len, recipe.rate)
    silent = silent_excerpts(corpus, recipe.wav_len, recipe.rate)
    if silent:
        raise SystemExit(f"{corpus}: silent noise excerpts: {silent[:5]}")
    (corpus / "READY").write_text(
        f"{len(signals)} signal files ({len(found) - len(signals)} screened out as "
        f"without signal: {sorted(p.name for p in set(found) - set(signals))}), "
        f"{len(noises)} noise files\n")
    return corpus
