"""Config files -> waveforms (SPEC sections 2 and 3).

Data loader workers only read and mix audio; every spectral computation
happens later, on the device, in batches (see ``spectral.py``).
"""
from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

import audio
from audio import DataError, excerpt_fits, fit_length, read_audio, read_excerpt
from noise_level import CALIBRATION_S, NoiseProfile, noise_level_gain, noise_profile
from noise_reference import reference_start
from noise_spans import Excerpt, NoiseSpans, random_start, read_spans

TRAIN_FIELDS = 6
EVAL_FIELDS = 4
CLIP_S = 3.125
"""Seconds of a clip unless ``--wav_len`` says otherwise: the published 50000 samples at
16 kHz."""


@dataclass(frozen=True)
class ConfigLine:
    """One example of a config file; ``origin`` is ``FILE:LINE`` for messages."""

    origin: str
    clean: str
    noise: str
    noise_start_s: float
    snr_db: float
    extra_noise: str | None = None
    extra_noise_start_s: float | None = None


RECORDING_TAG = "REC"
"""First field of a recordings line: ``REC noisy noisy_start_s noise noise_start_s``."""
RECORDING_FIELDS = 5


@dataclass(frozen=True)
class RecordingLine:
    """One example of a recordings config file: an excerpt of a noisy recording and an
    excerpt of a noise recording, with no clean speech and no SNR anywhere."""

    origin: str
    noisy: str
    noisy_start_s: float
    noise: str
    noise_start_s: float


Line = ConfigLine | RecordingLine


def _number(text: str, what: str, origin: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{origin}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{origin}: {what} {text!r} is not finite")
    return value


def _start(text: str, what: str, origin: str) -> float:
    value = _number(text, what, origin)
    if value < 0:
        raise DataError(f"{origin}: {what} {text} is negative")
    return value


def quote_field(text: str) -> str:
    """A config field as written: quoted as a POSIX shell would when it holds spaces,
    quotes or other special characters (``'my take 1.wav'``), else as it is."""
    return shlex.quote(text)


def split_fields(text: str, origin: str) -> list[str]:
    """The space-separated fields of a config line; fields may be quoted as
    ``quote_field`` writes them. A line without quotes splits on whitespace alone, as the
    published files always have."""
    if "'" not in text and '"' not in text:
        return text.split()
    try:
        return shlex.split(text)
    except ValueError as err:
        raise DataError(f"{origin}: {err} (quote a path holding spaces as 'my file.wav')") from None


def parse_line(text: str, origin: str, fields: int) -> Line:
    """Parse one line of space-separated fields: a published-format line of ``fields``
    fields (6 train, 4 eval; 6 also accepted where 4 are needed) or a recordings line
    (``REC noisy noisy_start_s noise noise_start_s``), which any split accepts."""
    parts = split_fields(text, origin)
    if parts and parts[0] == RECORDING_TAG:
        if len(parts) != RECORDING_FIELDS:
            raise DataError(f"{origin}: a recordings line has {RECORDING_FIELDS} fields "
                            f"({RECORDING_TAG} noisy_file noisy_start_s noise_file "
                            f"noise_start_s), found {len(parts)}")
        return RecordingLine(origin, parts[1], _start(parts[2], "noisy start time", origin),
                             parts[3], _start(parts[4], "noise start time", origin))
    if len(parts) != fields and not (fields == EVAL_FIELDS and len(parts) == TRAIN_FIELDS):
        raise DataError(f"{origin}: expected {fields} fields separated by spaces, "
                        f"found {len(parts)} (quote a path holding spaces as 'my file.wav')")
    start = _start(parts[2], "noise start time", origin)
    snr = _number(parts[3], "SNR", origin)
    extra, extra_start = None, None
    if len(parts) == TRAIN_FIELDS:
        extra = parts[4]
        extra_start = _start(parts[5], "second noise start time", origin)
    return ConfigLine(origin, parts[0], parts[1], start, snr, extra, extra_start)


def parse_config(path: str | Path, fields: int) -> tuple[list[Line], list[str]]:
    """The well-formed examples of a config file and a message for every bad line.

    Blank lines and lines starting with # are skipped. A file that cannot be read or
    holds no example gives no lines and one message. A file holds one kind of line:
    published-format or recordings (``REC ...``), as its first example does.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        return [], [f"{path}: cannot read config file ({err.strerror})"]
    except UnicodeDecodeError:
        return [], [f"{path}: not a text file"]
    lines, errors = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            parsed = parse_line(line, f"{path}:{number}", fields)
        except DataError as err:
            errors.append(str(err))
            continue
        if lines and type(parsed) is not type(lines[0]):
            errors.append(f"{parsed.origin}: a {describe(parsed)} line in a file of "
                          f"{describe(lines[0])} lines (from {lines[0].origin}); a config "
                          "file holds one kind")
            continue
        lines.append(parsed)
    if not lines and not errors:
        errors.append(f"{path}: config file has no examples")
    return lines, errors


def holds_recordings(path: str | Path) -> bool:
    """Whether the first example of a config file is a recordings line (False for a file
    that cannot be read: ``parse_config`` reports it)."""
    try:
        with open(path) as f:
            for text in f:
                if text.strip() and not text.lstrip().startswith("#"):
                    return text.split(maxsplit=1)[0] == RECORDING_TAG
    except (OSError, UnicodeDecodeError):
        pass
    return False


def describe(line: Line) -> str:
    """The kind of a config line, for messages."""
    return "recordings" if isinstance(line, RecordingLine) else "published-format"


def read_config(path: str | Path, fields: int, max_errors: int = 20) -> list[Line]:
    """Every example of a config file, or one DataError listing its bad lines."""
    lines, errors = parse_config(path, fields)
    if errors:
        raise DataError(summarise(errors, max_errors))
    return lines


def summarise(errors: list[str], limit: int) -> str:
    """One message listing at most ``limit`` problems and how many more there are."""
    shown = errors[:limit]
    more = len(errors) - len(shown)
    return "\n".join(shown + ([f"... and {more} more problems"] if more else []))


def resolve(config_path: str, root: str | Path | None) -> Path:
    """Where a config path lies on disk.

    Without ``root`` the path is used as written (relative to the working directory).
    With ``root`` (``--clean_path``/``--noise_path``), it replaces the first directory of a
    relative path, which names the dataset in the published files
    (``voicebank/clean_trainset_wav/p233_040.wav``), or is put before a bare file name.
    Absolute paths are always kept.
    """
    path = PurePath(config_path)
    if path.is_absolute() or root is None:
        return Path(path)
    inner = path.parts[1:] if len(path.parts) > 1 else path.parts
    return Path(root, *inner)


def standardise(wave: np.ndarray, path: Path, what: str = "noise excerpt") -> np.ndarray:
    """Zero mean, unit standard deviation; ``what`` names the excerpt in the error."""
    centred = wave - wave.mean()
    std = centred.std()
    if std < 1e-8:
        raise DataError(f"{path}: {what} is silent or constant")
    return centred / std


def mix(speech: np.ndarray, noise: np.ndarray,
        snr_db: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale zero-mean ``speech`` to ``snr_db`` against ``noise``.

    Returns (speech, noise, scale): both divided by the same ``scale``, the
    standard deviation of their sum, so that speech + noise has unit std.
    """
    speech_energy = float(np.sum(speech ** 2))
    if speech_energy < 1e-12:
        raise DataError("speech is silent, so no SNR can be set")
    gain = math.sqrt(np.sum(noise ** 2) * 10 ** (snr_db / 10) / speech_energy)
    speech = speech * gain
    scale = float(np.std(speech + noise))
    return speech / scale, noise / scale, scale


@dataclass(frozen=True)
class Corpus:
    """Where the datasets of the config files live, how they are read, and the noise
    recordings' ``NoiseProfile``s that recordings lines' noise levels are matched against
    (``with_noise_profiles``; None: each set's own)."""

    clean_root: str | None
    noise_root: str | None
    wav_len: int
    resampler: str = "soxr"
    profiles: tuple[NoiseProfile, ...] | None = None
    sample_rate: int = field(kw_only=True)
    """Hz: every waveform is read at this rate (``wav_len`` samples of it a clip)."""

    @property
    def clip_s(self) -> float:
        """Seconds of one clip (``wav_len`` samples at ``sample_rate``)."""
        return self.wav_len / self.sample_rate

    def excerpt(self, name: str, root: str | None, start_s: float,
                short: str = "refuse") -> tuple[np.ndarray, Path]:
        """(``wav_len`` samples of the file a config path names from ``start_s`` on, its
        path on disk)."""
        path = resolve(name, root)
        return read_excerpt(path, start_s, self.wav_len, short, self.resampler,
                            rate=self.sample_rate), path

    def with_noise_profiles(self, lines: list[Line]) -> Corpus:
        """This corpus with the profiles of every noise recording ``lines`` name."""
        return replace(self, profiles=tuple(noise_profiles(lines, self)))


def load_parallel(line: ConfigLine, corpus: Corpus) -> tuple[np.ndarray, np.ndarray, float]:
    """(noisy, clean, scale) of one config line, noisy = clean + noise with unit std."""
    noise, noise_path = corpus.excerpt(line.noise, corpus.noise_root, line.noise_start_s)
    noise = standardise(noise, noise_path)
    speech = fit_length(read_audio(resolve(line.clean, corpus.clean_root), corpus.resampler,
                                   rate=corpus.sample_rate), corpus.wav_len)
    speech = speech - speech.mean()
    clean, noise, scale = mix(speech, noise, line.snr_db)
    return clean + noise, clean, scale


def load_recordings(line: RecordingLine, corpus: Corpus,
                    profiles: tuple[NoiseProfile, ...] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, noise) excerpts of a recordings line at zero mean and unit std; given the
    ``profiles`` of the noise recordings, the noise is brought to the estimated level of
    the noise inside the noisy excerpt (``noise_level_gain``, over the samples the noisy
    recording holds). A noisy recording shorter than a clip is zero-padded, a noise
    recording repeated."""
    noisy, noisy_path = corpus.excerpt(line.noisy, corpus.clean_root, line.noisy_start_s, "pad")
    held = len(np.trim_zeros(noisy, "b")) or len(noisy)
    noisy = standardise(noisy, noisy_path, "noisy excerpt")
    noise, noise_path = corpus.excerpt(line.noise, corpus.noise_root, line.noise_start_s, "loop")
    noise = standardise(noise, noise_path)
    if profiles is None:
        return noisy, noise
    return noisy, noise * noise_level_gain(noisy[:held], profiles)


def load_extra_noise(line: ConfigLine, corpus: Corpus) -> np.ndarray:
    """The separate noise example of a training line (fields 5-6), unit std."""
    noise, path = corpus.excerpt(line.extra_noise, corpus.noise_root, line.extra_noise_start_s)
    return standardise(noise, path)


TILT_PIVOT_HZ = 1000.0
TILT_FLOOR_HZ = 100.0


def tilted(waves: list[np.ndarray], db_per_octave: float, rate: int) -> list[np.ndarray]:
    """(T,) ``waves`` at ``rate`` Hz through one spectral tilt of ``db_per_octave`` (0 dB at
    ``TILT_PIVOT_HZ``, flat below ``TILT_FLOOR_HZ``), all divided by the standard
    deviation the first comes out with, so that it keeps unit std and the others their
    level relative to it."""
    length = len(waves[0])
    freqs_hz = np.fft.rfftfreq(length, 1 / rate)
    octaves = np.log2(np.maximum(freqs_hz, TILT_FLOOR_HZ) / TILT_PIVOT_HZ)
    gain = 10 ** (db_per_octave * octaves / 20)
    out = [np.fft.irfft(np.fft.rfft(wave) * gain, length) for wave in waves]
    scale = max(float(out[0].std()), 1e-8)
    return [wave / scale for wave in out]


def noise_excerpts(lines: list[Line], clip_s: float, extra: bool = True) -> list[Excerpt]:
    """Every noise excerpt of ``clip_s`` seconds ``lines`` read: fields 2-3 and, where given
    and ``extra``, 5-6 of a published-format line; the noise recording of a recordings
    line."""
    found = []
    for line in lines:
        named = [(line.noise, line.noise_start_s)]
        if extra and isinstance(line, ConfigLine) and line.extra_noise is not None:
            named.append((line.extra_noise, line.extra_noise_start_s))
        found += [Excerpt(name, start, start + clip_s, line.origin) for name, start in named]
    return found


def training_spans(lines: list[Line], clip_s: float) -> NoiseSpans:
    """The span of each noise file that ``lines`` read, whole (see ``noise_spans.check`` for
    the spans less a run's test excerpts)."""
    return {name: (span,) for name, span in read_spans(noise_excerpts(lines, clip_s)).items()}


def fresh_noise_line(line: Line, spans: NoiseSpans, rng: np.random.Generator,
                     clip_s: float) -> Line:
    """``line`` with its noise example (``clip_s`` seconds) moved to a random start inside
    the spans of its file (the mixture of a published-format line is left as it is)."""
    if isinstance(line, RecordingLine):
        return replace(line, noise_start_s=random_start(spans[line.noise], rng, clip_s))
    return replace(line, extra_noise_start_s=random_start(spans[line.extra_noise], rng, clip_s))


def reference_excerpt(corpus: Corpus, own: tuple[str, float], reference: tuple[str, float],
                      short: str) -> np.ndarray:
    """The excerpt (file, start s) ``reference``, centred and divided by the std of the
    excerpt ``own`` (the noise in a clip, at unit std there): a reference at its own level,
    as a take recorded beside the clip is, not brought to the clip's noise level."""
    own_wave, _ = corpus.excerpt(own[0], corpus.noise_root, own[1], short)
    wave, _ = corpus.excerpt(reference[0], corpus.noise_root, reference[1], short)
    return (wave - wave.mean()) / max(float(own_wave.std()), 1e-8)


def drawn_reference(corpus: Corpus, spans: NoiseSpans, name: str, own_start_s: float,
                    short: str, rng: np.random.Generator) -> np.ndarray:
    """A noise reference for a clip whose noise is the excerpt of file ``name`` at
    ``own_start_s`` (at unit std there): another excerpt of the file inside its ``spans``,
    never overlapping that one, at its own level (``reference_excerpt``); zeros (no
    reference) where the spans hold none."""
    start = reference_start(spans.get(name, ()), own_start_s, corpus.clip_s, rng)
    if start is None:
        return np.zeros(corpus.wav_len)
    return reference_excerpt(corpus, (name, own_start_s), (name, start), short)


def noise_profiles(lines: list[Line], corpus: Corpus) -> list[NoiseProfile]:
    """The ``noise_profile`` of every noise recording that the recordings lines among
    ``lines`` name, over up to ``CALIBRATION_S`` of the span of it that they read."""
    spans, profiles = read_spans(noise_excerpts(lines, corpus.clip_s)), []
    for name in sorted({line.noise for line in lines if isinstance(line, RecordingLine)}):
        low, high = spans[name]
        length = audio.samples(min(high - low, CALIBRATION_S), corpus.sample_rate)
        profiles.append(noise_profile(read_excerpt(resolve(name, corpus.noise_root), low,
                                                   length, "loop", corpus.resampler,
                                                   rate=corpus.sample_rate)))
    return profiles


class ExampleSet(Dataset):
    """Waveform pairs of a config file, built deterministically from each line.

    ``second`` picks what comes beside the noisy clip of a published-format line:
    ``clean`` (supervised training, validation, test), ``noise`` (the separate noise
    example at unit std), or ``noise_paired`` (the separate noise divided by the noisy
    clip's scale, so its level matches the noise inside the noisy clip). A recordings
    line gives its noisy excerpt at unit std and its noise excerpt at unit std or, for
    ``noise_paired``, at the estimated level of the noise inside the noisy excerpt
    (``load_recordings``), measured against the corpus's ``profiles`` of the run's noise
    recordings (without them, ``noise_profiles`` of the set's own lines).
    With ``fresh_noise``, each item's noise example is read at a new random start inside
    the ``spans`` of its file (by default the span the lines read, ``training_spans``),
    drawn from NumPy's global generator (seeded per run and per loader worker), so every
    epoch hears new noise.
    With ``tilt_db`` > 0, both clips of each item pass through one random spectral tilt
    (``tilted``) of up to that many dB per octave either way, drawn anew for every item
    from the same generator: another recording chain each time, the same for the noisy
    clip and what comes beside it.
    Items are (noisy, second) float32 tensors of ``wav_len`` samples and, unless
    ``references`` is ``none``, a (2, ``wav_len``) float32 tensor of their noise references
    (``noise_reference``), each at its own level beside the noise in its clip
    (``reference_excerpt``), zeros where there is none: ``given``, a published-format
    line's fields 5-6 for its noisy clip (validation and test lines; none for the
    second); ``drawn``, for each clip an excerpt of its own noise file inside the
    ``spans`` that does not overlap the clip's noise excerpt (a recordings line's noise
    recording for both, whatever the mode), at random where noise is ``fresh_noise``, else
    the same for each line every time. ``reference_drop`` is the
    share of references left out (zeros), drawn per item.
    """

    def __init__(self, lines: list[Line], corpus: Corpus, second: str = "clean",
                 fresh_noise: bool = False, tilt_db: float = 0.0,
                 spans: NoiseSpans | None = None, references: str = "none",
                 reference_drop: float = 0.0):
        self.lines, self.corpus, self.second = lines, corpus, second
        self.fresh_noise = fresh_noise and second != "clean"
        self.tilt_db = tilt_db
        self.spans = spans if spans is not None else training_spans(lines, corpus.clip_s)
        self.profiles = corpus.profiles
        self.references, self.reference_drop = references, reference_drop

    def noise_profiles(self) -> tuple[NoiseProfile, ...]:
        """The corpus's profiles, or those of this set's own noise recordings; computed once."""
        if self.profiles is None:
            self.profiles = tuple(noise_profiles(self.lines, self.corpus))
        return self.profiles

    def __len__(self) -> int:
        return len(self.lines)

    def references_of(self, line: Line, index: int, level: float, second_level: float
                      ) -> list[np.ndarray]:
        """The references of ``line``'s noisy clip and second item, at the rms of the noise
        in each (see the class)."""
        silent = np.zeros(self.corpus.wav_len)
        if self.references == "given" and isinstance(line, ConfigLine):
            if line.extra_noise is None:
                return [silent, silent]
            return [reference_excerpt(self.corpus, (line.noise, line.noise_start_s),
                                      (line.extra_noise, line.extra_noise_start_s),
                                      "refuse") * level, silent]
        rng = np.random.default_rng(np.random.randint(2 ** 32) if self.fresh_noise else index)
        if isinstance(line, RecordingLine):
            return [drawn_reference(self.corpus, self.spans, line.noise, line.noise_start_s,
                                    "loop", rng) * lvl for lvl in (level, second_level)]
        found = [drawn_reference(self.corpus, self.spans, line.noise, line.noise_start_s,
                                 "refuse", rng) * level]
        if self.second == "clean":
            return found + [silent]
        return found + [drawn_reference(self.corpus, self.spans, line.extra_noise,
                                        line.extra_noise_start_s, "refuse", rng) * second_level]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        line = self.lines[index]
        if self.fresh_noise:
            line = fresh_noise_line(line, self.spans, np.random.default_rng(
                np.random.randint(2 ** 32)), self.corpus.clip_s)
        try:
            if isinstance(line, RecordingLine):
                profiles = self.noise_profiles() if self.second == "noise_paired" else None
                noisy, other = load_recordings(line, self.corpus, profiles)
                level = float(other.std())
            else:
                noisy, clean, scale = load_parallel(line, self.corpus)
                level = 1 / scale
                if self.second == "clean":
                    other = clean
                else:
                    other = load_extra_noise(line, self.corpus)
                    if self.second == "noise_paired":
                        other = other / scale
            waves = [noisy, other]
            if self.references != "none":
                waves += self.references_of(line, index, level, float(other.std()))
        except DataError as err:
            raise DataError(f"{line.origin}: {err}") from None
        if self.tilt_db > 0:
            tilt = np.random.uniform(-self.tilt_db, self.tilt_db)
            waves = tilted(waves, tilt, self.corpus.sample_rate)
        items = [torch.from_numpy(wave).float() for wave in waves]
        if self.references == "none":
            return tuple(items)
        references = torch.stack(items[2:])
        if self.reference_drop > 0:
            references *= torch.from_numpy(np.random.uniform(size=(2, 1)) >= self.reference_drop)
        return items[0], items[1], references


def with_noise_fields_swapped(lines: list[Line]) -> list[Line]:
    """Training lines whose noisy clip is mixed from fields 5-6 and whose separate noise
    example is read from fields 2-3, as the reference code does (``--noisy_fields 5-6``);
    recordings lines are kept."""
    return [replace(line, noise=line.extra_noise, noise_start_s=line.extra_noise_start_s,
                    extra_noise=line.noise, extra_noise_start_s=line.noise_start_s)
            if isinstance(line, ConfigLine) and line.extra_noise is not None else line
            for line in lines]


class LabelledClips(Dataset):
    """The 2N clips of N (noisy, noise) training pairs as single examples, for PU batches
    drawn from both classes shuffled together (``--pu_batches shuffled``): item 2k is
    line k's noisy clip with label 0 (unlabelled), item 2k + 1 its noise clip with label 1
    (positive). Items are ((T,) float32 clip, () float32 label) and, where ``pairs`` have
    references, the clip's as a (1, T) tensor."""

    def __init__(self, pairs: ExampleSet):
        self.pairs = pairs

    def __len__(self) -> int:
        return 2 * len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        label = index % 2
        pair = self.pairs[index // 2]
        item = (pair[label], torch.tensor(float(label)))
        return item if len(pair) == 2 else (*item, pair[2][label:label + 1])


def _named(config_path: str, path: Path) -> str:
    """A file as the config line names it and, where that differs, as looked for on disk."""
    return config_path if Path(config_path) == path else f"{config_path} (looked for as {path})"


def audio_problem(path: Path) -> sf._SoundFileInfo | str:
    """The file's header, or what makes it unusable: unreadable, no samples, only zeros or
    one constant value (read up to its first block that varies)."""
    try:
        found, content = audio.scan(path, whole=False, block=16384)
    except audio.READ_ERRORS as err:
        return f"not readable as audio ({err})"
    return content.problem() or found


def check_files(lines: list[Line], corpus: Corpus) -> tuple[list[str], int]:
    """Header-only check of every file the lines refer to.

    Returns (problems as ``FILE:LINE: ...`` messages, number of missing files):
    a file must exist, be readable audio and hold a signal (``audio_problem``), and every
    noise file must hold ``wav_len`` samples after the line's start time.
    """
    infos: dict[Path, sf._SoundFileInfo | str] = {}
    missing: set[Path] = set()

    def info(path: Path) -> sf._SoundFileInfo | str:
        if path not in infos:
            if path.is_dir():
                infos[path] = "is a folder, not an audio file"
            elif not path.is_file():
                missing.add(path)
                infos[path] = "file does not exist"
            else:
                infos[path] = audio_problem(path)
        return infos[path]

    problems = []

    def check(name: str, root: str | None, start_s: float | None, short: str) -> None:
        path = resolve(name, root)
        found = info(path)
        if isinstance(found, str):
            problems.append(f"{line.origin}: {_named(name, path)}: {found}")
        elif start_s is not None and not excerpt_fits(start_s, corpus.wav_len, found.samplerate,
                                                      found.frames, short,
                                                      rate=corpus.sample_rate):
            problems.append(f"{line.origin}: {_named(name, path)}: lasts "
                            f"{found.duration:.3f} s, too short for {corpus.clip_s:.3f} s from "
                            f"{start_s:g} s")

    for line in lines:
        if isinstance(line, RecordingLine):
            check(line.noisy, corpus.clean_root, line.noisy_start_s, "pad")
            check(line.noise, corpus.noise_root, line.noise_start_s, "loop")
            continue
        check(line.clean, corpus.clean_root, None, "refuse")
        check(line.noise, corpus.noise_root, line.noise_start_s, "refuse")
        if line.extra_noise is not None:
            check(line.extra_noise, corpus.noise_root, line.extra_noise_start_s, "refuse")
    return problems, len(missing)


class ConfigChecker:
    """Reads config files and checks every audio file they name, collecting every problem,
    so that one message lists them all (``raise_problems``)."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.problems: list[str] = []
        self.missing = 0

    def load(self, path: str | Path, fields: int) -> list[Line]:
        """The well-formed lines of ``path``; its problems are kept for ``raise_problems``."""
        lines, format_errors = parse_config(path, fields)
        file_problems, missing = check_files(lines, self.corpus)
        self.problems += format_errors + file_problems
        self.missing += missing
        return lines

    def raise_problems(self, limit: int = 20) -> None:
        """A DataError listing the problems found so far, if any."""
        if not self.problems:
            return
        message = summarise(self.problems, limit)
        if self.missing:
            message += (f"\n{self.missing} audio files are missing. Config paths are read from "
                        "the working directory unless --clean_path/--noise_path name the "
                        "datasets' folders. Get VoiceBank and DEMAND with `bash download.sh`, "
                        "or try the built-in corpus with `python pulse.py --demo`.")
        raise DataError(message)

