"""The six published config files ship byte for byte as the authors released them."""
from __future__ import annotations

import hashlib

import pytest

import dataset
from conftest import ROOT

PUBLISHED_SHA256 = {
    "TIMIT_test_set.txt": "a325788a4c69820c582ba38a8feb99e21746c4345b582975a9ecb262ca99500b",
    "TIMIT_train_set.txt": "2d6a59fc6d208401d846cde5ab1881507052fffaf128b89d8039bf052137643b",
    "TIMIT_val_set.txt": "9d3b1662ea14e42d25f07b41241f6687e517df21795b2bb95d1d9108c7416ebc",
    "voicebank_test_set.txt": "4bc1218faddef5e64564fba206bbbc7f2c4e4f67e9c4f87202d78699f551c710",
    "voicebank_train_set.txt": "f4d7f252a12c3610234a476360ecad4802283b9501e0623744a6c328c6ec91fb",
    "voicebank_val_set.txt": "52c942054d00516c735505ed1b07ef1dec63e945ed2b580dca475de1fc4fd249",
}
SIZES = {"voicebank": (10415, 1157, 824), "TIMIT": (4218, 402, 1680)}


@pytest.mark.parametrize("name", sorted(PUBLISHED_SHA256))
def test_published_config_is_byte_for_byte(name):
    assert hashlib.sha256((ROOT / name).read_bytes()).hexdigest() == PUBLISHED_SHA256[name]


@pytest.mark.parametrize("corpus", sorted(SIZES))
def test_published_configs_parse_with_the_published_sizes(corpus):
    counts = tuple(len(dataset.read_config(ROOT / f"{corpus}_{split}_set.txt", fields))
                   for split, fields in (("train", dataset.TRAIN_FIELDS),
                                         ("val", dataset.EVAL_FIELDS),
                                         ("test", dataset.EVAL_FIELDS)))
    assert counts == SIZES[corpus]


def test_the_notice_travels_with_them():
    notice = (ROOT / "NOTICE.md").read_text()
    assert "Copyright (c) 2022 Nobutaka Ito" in notice
    assert all(name in notice for name in PUBLISHED_SHA256)
