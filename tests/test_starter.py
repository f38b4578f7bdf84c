"""The leave-one-corpus-out starter's data (``benchmarks/starter.py --leave_out``)."""
import shlex

from benchmarks import corpora
from benchmarks.starter import pooled_corpora


def fake_corpora(data):
    """Built-looking corpora whose config lines name their corpus and split."""
    root = data / f"corpora_v{corpora.CORPORA_VERSION}"
    for name in corpora.CORPORA:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "READY").write_text("")
        for protocol in ("seen", "unseen"):
            for split in ("train", "val", "test"):
                extra = " 'n two.wav' 3.0" if split == "train" else ""
                (folder / f"{protocol}_{split}_set.txt").write_text(
                    f"s/{protocol}_{split}.wav n.wav 1.5 4.0{extra}\n")
    return root


def test_the_left_out_corpus_is_never_heard(tmp_path):
    root = fake_corpora(tmp_path)
    folder, files, wav_len = pooled_corpora(tmp_path, "animal_calls")
    assert folder == root and wav_len == 32000
    train, val, test = ((root / f).read_text().splitlines() for f in files)
    assert [shlex.split(line) for line in train[:2]] == [
        ["prompts_ambience/s/seen_train.wav", "prompts_ambience/n.wav", "1.5", "4.0",
         "prompts_ambience/n two.wav", "3.0"],
        ["prompts_ambience/s/unseen_train.wav", "prompts_ambience/n.wav", "1.5", "4.0",
         "prompts_ambience/n two.wav", "3.0"]]
    kept = [name for name in corpora.CORPORA if name != "animal_calls"]
    assert len(train) == 2 * len(kept) and not any("animal" in line for line in train + val + test)
    assert val == [f"{name}/s/unseen_val.wav {name}/n.wav 1.5 4.0" for name in kept]
    assert [line.split()[0] for line in test] == [f"{name}/s/unseen_test.wav" for name in kept]


def test_the_clip_is_the_shortest_of_the_pooled_corpora(tmp_path):
    fake_corpora(tmp_path)
    assert pooled_corpora(tmp_path, "gsm_city")[2] == corpora.CORPORA["animal_calls"].wav_len


def test_a_corpus_of_the_same_signal_is_left_out_with_it(tmp_path):
    """prompts_steady holds prompts_ambience's prompts: leaving one out leaves out both."""
    root = fake_corpora(tmp_path)
    for left_out in ("prompts_ambience", "prompts_steady"):
        _, files, _ = pooled_corpora(tmp_path, left_out)
        pooled = "".join((root / f).read_text() for f in files)
        assert "prompts_" not in pooled and "gsm_city/" in pooled
