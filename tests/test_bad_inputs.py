"""Table of bad inputs: each gets a clear message naming what is wrong, a non-zero exit,
no traceback and no checkpoint. Runs pulse.main in-process to stay fast."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import pulse
from conftest import TINY_RUN, make_tiny_corpus


def _line(corpus, split, index, field, value):
    path = getattr(corpus, split)
    lines = path.read_text().splitlines()
    fields = lines[index].split()
    if value is None:
        del fields[field]
    else:
        fields[field:field + 1] = [value] if field < len(fields) else []
        if field >= len(lines[index].split()):
            fields.append(value)
    lines[index] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")


def _audio(corpus, name, wave, rate=16000, **kw):
    sf.write(corpus.root / name, wave, rate, **kw)


def _text(corpus, name, text):
    (corpus.root / name).write_text(text)


CONFIG_CASES = {
    "train line with 5 fields": (lambda c: _line(c, "train", 0, 5, None), "train_set.txt:1: expected 6 fields"),
    "train line with 7 fields": (lambda c: _line(c, "train", 1, 6, "x"), "train_set.txt:2: expected 6 fields"),
    "val line with 5 fields": (lambda c: _line(c, "val", 0, 4, "extra"), "val_set.txt:1: expected 4 fields"),
    "start time not a number": (lambda c: _line(c, "train", 2, 2, "abc"), "train_set.txt:3: noise start time 'abc'"),
    "SNR not a number": (lambda c: _line(c, "test", 0, 3, "loud"), "test_set.txt:1: SNR 'loud'"),
    "SNR infinite": (lambda c: _line(c, "val", 1, 3, "inf"), "val_set.txt:2: SNR 'inf' is not finite"),
    "SNR NaN": (lambda c: _line(c, "train", 0, 3, "nan"), "train_set.txt:1: SNR 'nan' is not finite"),
    "negative start": (lambda c: _line(c, "test", 1, 2, "-0.5"), "test_set.txt:2: noise start time -0.5 is negative"),
    "negative second start": (lambda c: _line(c, "train", 3, 5, "-1"), "train_set.txt:4: second noise start time -1"),
    "second start not a number": (lambda c: _line(c, "train", 3, 5, "x1"), "train_set.txt:4: second noise start time 'x1'"),
    "empty config file": (lambda c: c.val.write_text("\n# nothing\n"), "val_set.txt: config file has no examples"),
    "config file missing": (lambda c: c.test.unlink(), "test_set.txt: cannot read config file"),
    "binary config file": (lambda c: c.val.write_bytes(b"\xff\xfe\x00\x81"), "val_set.txt: not a text file"),
    "speech file missing": (lambda c: (c.clean_path / "u00.wav").unlink(), "train_set.txt:1: "),
    "noise file missing": (lambda c: _line(c, "val", 0, 1, "noise/gone.wav"), "val_set.txt:1: "),
    "second noise missing": (lambda c: _line(c, "train", 2, 4, "noise/gone.wav"), "train_set.txt:3: "),
    "noise not audio": (lambda c: _text(c, "noise/pink.wav", "hello"), "pink.wav): not readable as audio"),
    "speech not audio": (lambda c: _text(c, "speech/u07.wav", "RIFF"), "u07.wav): not readable as audio"),
    "start too late": (lambda c: _line(c, "test", 0, 2, "3.9"), "test_set.txt:1: "),
    "second start too late": (lambda c: _line(c, "train", 4, 5, "10"), "train_set.txt:5: "),
    "noise file without samples": (lambda c: _audio(c, "noise/hum.wav", np.zeros(0)), "hum.wav): holds no audio samples (0 frames)"),
    "silent noise": (lambda c: _audio(c, "noise/hum.wav", np.zeros(64000)), "hum.wav): is silent: every sample is 0"),
    "silent speech": (lambda c: _audio(c, "speech/u00.wav", np.zeros(5000)), "u00.wav): is silent: every sample is 0"),
    "DC-only noise": (lambda c: _audio(c, "noise/pink.wav", np.full(64000, 0.25)), "pink.wav): holds only a constant (DC) value"),
    "a folder named as noise": (lambda c: ((c.noise_path / "sub.wav").mkdir(), _line(c, "val", 0, 1, "noise/sub.wav")),
                                "sub.wav): is a folder, not an audio file"),
    "8 kHz noise too short in seconds": (lambda c: _audio(c, "noise/hum.wav", 0.1 * np.sin(np.arange(16000)), 8000), "too short"),
}
LOAD_CASES = {
    "silent speech excerpt": (lambda c: _audio(c, "speech/u00.wav", np.r_[np.zeros(5000), np.ones(10)]),
                              "train_set.txt:1: speech is silent"),
    "infinite samples": (lambda c: _audio(c, "speech/u01.wav", np.r_[np.zeros(10), np.inf, np.ones(5000)], subtype="FLOAT"),
                         "u01.wav): contains NaN or infinite samples"),
}
OPTION_CASES = {
    "prior 0": (["--prior", "0"], "strictly between 0 and 1"),
    "prior 1": (["--prior", "1"], "strictly between 0 and 1"),
    "batch size 0": (["--batch_size", "0"], "positive integer"),
    "negative learning rate": (["--lr_per_GPU", "-1"], "positive number"),
    "droprate 1": (["--droprate", "1"], "[0, 1)"),
    "frame length 0": (["--frame_len", "0"], "positive integer"),
    "channels 0": (["--channels", "0"], "positive integer"),
    "epochs not a number": (["--epochs", "ten"], "not a valid int"),
    "resume without out_dir": (["--resume"], "--resume needs --out_dir"),
    "enhance without output folder": (["--enhance", "x.wav"], "--enhance needs --output_dir"),
    "unknown device": (["--device", "tpu"], "invalid choice"),
    "unknown feature": (["--feature", "cubic"], "invalid choice"),
    "negative epochs": (["--epochs", "-1"], "must be a positive integer"),
    "fcblocks above blocks": (["--fcblocks", "3", "--blocks", "2"], "--fcblocks 3 exceeds --blocks 2"),
    "odd frame length": (["--frame_len", "511"], "must be even"),
    "negative beta": (["--beta", "-0.1"], "0 or more"),
    "gamma 0": (["--gamma", "0"], "positive number"),
    "unknown mode": (["--mode", "biased"], "invalid choice"),
    "unknown compile mode": (["--compile", "fastest"], "invalid choice"),
}


def test_cuda_graphs_refused_with_several_processes(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    out = tmp_path / "o"
    assert pulse.main(["--dist", "--compile", "reduce-overhead", "--out_dir", str(out)]) == 1
    assert "one process only" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(CONFIG_CASES) + sorted(LOAD_CASES))
def test_bad_data(case, tmp_path, capsys):
    corpus = make_tiny_corpus(tmp_path / "data")
    change, message = {**CONFIG_CASES, **LOAD_CASES}[case]
    change(corpus)
    out = tmp_path / "out"
    argv = [*TINY_RUN, *corpus.options(), "--out_dir", str(out), "--epochs", "1"]
    assert pulse.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if case in CONFIG_CASES:
        assert not out.exists()
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists()


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_options(case, tmp_path, capsys):
    options, message = OPTION_CASES[case]
    with pytest.raises(SystemExit) as exit_:
        pulse.main([*options, "--out_dir", str(tmp_path / "o")] if case != "resume without out_dir"
                   else options)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unusual_but_valid_formats_train(tmp_path, capsys):
    """8-bit, 24-bit, float, stereo, 44.1 kHz and short speech are handled as the SPEC says."""
    corpus = make_tiny_corpus(tmp_path / "data")
    speech = sf.read(corpus.clean_path / "u00.wav")[0]
    _audio(corpus, "speech/u00.wav", speech, subtype="PCM_U8", format="WAV")
    _audio(corpus, "speech/u01.wav", speech, subtype="PCM_24")
    _audio(corpus, "speech/u02.wav", np.stack([speech, 0.5 * speech], axis=1), subtype="FLOAT")
    _audio(corpus, "speech/u03.wav", speech[:800])
    noise = sf.read(corpus.noise_path / "hum.wav")[0]
    _audio(corpus, "noise/hum.wav", np.interp(np.arange(0, len(noise), 16000 / 44100),
                                              np.arange(len(noise)), noise), 44100)
    assert pulse.main([*TINY_RUN, *corpus.options(), "--epochs", "1",
                       "--out_dir", str(tmp_path / "o")]) == 0
    assert "test SI-SNRi:" in capsys.readouterr().out
