"""pipeline.checkpoint and pipeline.inference: roundtrip, refusal of a foreign vocabulary, raw texts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax

from pipeline.checkpoint import PARAMS_FILE, SPEC_FILE, CheckpointError, load_checkpoint, save_checkpoint
from pipeline.fileio import sha256_file
from pipeline.inference import predict_logits, predict_texts, texts_to_split


def test_roundtrip_gives_identical_predictions(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "models" / "tiny"
    save_checkpoint(trained.net, trained.checkpoint_spec, directory)
    assert sorted(p.name for p in directory.iterdir()) == sorted([PARAMS_FILE, SPEC_FILE])
    net, spec = load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert spec.pop("weights_sha256") == sha256_file(directory / PARAMS_FILE)
    assert spec == trained.checkpoint_spec
    assert net.spec == trained.spec
    before = predict_logits(trained.net, tiny_data.test, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    after = predict_logits(net, tiny_data.test, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    np.testing.assert_allclose(after, before, atol=1e-6, rtol=0)
    assert np.ptp(before, axis=0).max() > 0.1  # a trained model, not a constant


def test_foreign_vocabulary_size_is_refused(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "tiny"
    save_checkpoint(trained.net, trained.checkpoint_spec, directory)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(directory, tiny_data.vocab_size + 7, ctx)
    message = str(err.value)
    assert f"{tiny_data.vocab_size} entries" in message
    assert f"has {tiny_data.vocab_size + 7}" in message
    assert "train@tiny" in message


@pytest.mark.parametrize("missing", [PARAMS_FILE, SPEC_FILE])
def test_missing_checkpoint_file(tmp_path, tiny_data, trained, ctx, missing):
    directory = tmp_path / "tiny"
    save_checkpoint(trained.net, trained.checkpoint_spec, directory)
    (directory / missing).unlink()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert missing in str(err.value)
    assert "not found" in str(err.value)


def test_missing_checkpoint_directory(tmp_path, ctx):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "never_trained", 10, ctx)


def test_weights_that_do_not_fit_the_spec(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "tiny"
    save_checkpoint(trained.net, trained.checkpoint_spec, directory)
    spec = json.loads((directory / SPEC_FILE).read_text(encoding="utf-8"))
    spec["model"]["hidden"] = [9]
    (directory / SPEC_FILE).write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(directory, tiny_data.vocab_size, ctx)


def test_predict_texts_rows_are_probabilities(tiny_data, trained, ctx):
    texts = tiny_data.test_texts[:9] + ["", "qwertyuiop zxcvb", "!!! ..."]
    probs = predict_texts(trained.net, texts, tiny_data.vocab, True, tiny_data.max_tokens, ctx, batch_size=4)
    assert probs.shape == (len(texts), 4)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_texts_empty_string_alone(tiny_data, trained, ctx):
    probs = predict_texts(trained.net, [""], tiny_data.vocab, True, tiny_data.max_tokens, ctx)
    assert probs.shape == (1, 4)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)


def test_predict_texts_matches_the_cached_path_and_keeps_order(tiny_data, trained, ctx):
    texts = tiny_data.test_texts[:12]
    probs = predict_texts(trained.net, texts, tiny_data.vocab, True, tiny_data.max_tokens, ctx)
    cached = softmax(predict_logits(trained.net, tiny_data.test.subset(np.arange(12)), tiny_data.max_tokens,
                                    tiny_data.pad_id, ctx), axis=1)
    np.testing.assert_allclose(probs, cached, atol=1e-6, rtol=0)
    reversed_probs = predict_texts(trained.net, texts[::-1], tiny_data.vocab, True, tiny_data.max_tokens, ctx)
    np.testing.assert_allclose(reversed_probs[::-1], probs, atol=1e-6, rtol=0)
    upper = predict_texts(trained.net, [t.upper() for t in texts], tiny_data.vocab, True,
                          tiny_data.max_tokens, ctx)
    np.testing.assert_allclose(upper, probs, atol=1e-6, rtol=0)  # lower-cased like the vocabulary


def test_texts_to_split_uses_unk_for_unknown_words(tiny_data):
    split = texts_to_split(["Football qwertyuiop", ""], tiny_data.vocab, lowercase=True)
    assert split.lengths.tolist() == [2, 0]
    assert split.ids[0] == tiny_data.vocab.token_to_idx["football"]
    assert split.ids[1] == tiny_data.vocab.token_to_idx["<unk>"]


def test_predict_logits_on_an_empty_split(tiny_data, trained, ctx):
    split = texts_to_split([], tiny_data.vocab, lowercase=True)
    assert predict_logits(trained.net, split, tiny_data.max_tokens, tiny_data.pad_id, ctx).shape == (0, 4)
