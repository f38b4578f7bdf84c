"""The demo corpus is generated deterministically: the README's demo figures depend on it.

If a change to demo_corpus.py is meant to change the audio, bump demo_corpus.VERSION (so old
corpora are regenerated), re-measure the demo figures in the README and update these samples.
"""
import numpy as np
import soundfile as sf

from create_config_files import TEST_NOISE_SHARE
from demo_corpus import ensure_demo_corpus

# int16 samples from sample 4000 (speech: 3000) of a small corpus (seed 0); +-2 LSB allows
# other CPUs' rounding
EXPECTED = {
    "demo_noise/BABBLE/ch01.wav": [2138, 1879, 2722, 3068, 2282, -538],
    "demo_noise/HUM/ch01.wav": [899, -535, -980, 470, -39, -669],
    "demo_noise/KNOCKS/ch01.wav": [-608, -212, -433, -406, -571, -329],
    "demo_noise/MACHINE/ch01.wav": [-5594, -4729, -1876, 1036, 2135, 956],
    "demo_noise/PINK/ch01.wav": [8039, 7056, 7007, 6532, 4041, 5534],
    "demo_noise/TRAFFIC/ch01.wav": [-4959, -5062, -5137, -5096, -5412, -5201],
    "demo_speech/test/s10_0004.wav": [1678, 1603, 1376, 1118, 948, 847],
}


def test_small_demo_corpus_is_the_expected_audio(tmp_path):
    corpus = ensure_demo_corpus(tmp_path, clip_s=0.5, n_trainval=4, n_val=1, n_test=2,
                                noise_s=6.0)
    for name, samples in EXPECTED.items():
        start = 3000 if name.startswith("demo_speech") else 4000
        found, rate = sf.read(tmp_path / name, dtype="int16", start=start, frames=6)
        assert rate == 16000
        assert np.abs(found.astype(int) - samples).max() <= 2, name
    test_lines = corpus.test.read_text().split("\n")[:-1]
    assert len(test_lines) == 2
    for line in test_lines:  # test noise comes from the unseen last 10 % of each file
        assert float(line.split()[2]) >= 6.0 * (1 - TEST_NOISE_SHARE)
    train = corpus.train.read_text().split("\n")[:-1]
    assert len(train) == 3 and all(len(line.split()) == 6 for line in train)
    assert all(-5 <= float(line.split()[3]) <= 10 for line in train)
