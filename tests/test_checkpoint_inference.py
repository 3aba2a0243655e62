"""pipeline.checkpoint and pipeline.inference: roundtrip, refusal of a foreign vocabulary, raw texts."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.special import softmax

from pipeline import checkpoint
from pipeline.checkpoint import METADATA_FILE, PARAMS_FILE, CheckpointError, load_checkpoint
from pipeline.fileio import sha256_file
from pipeline.inference import predict_logits, predict_probabilities, predict_texts, texts_to_split
from pipeline.model import build_model
from pipeline.params import Approach
from tests.conftest import TINY_MAX_TOKENS, TINY_SETTINGS, TINY_TEXT, tiny_architecture


def save(directory, trained, tiny_data) -> None:
    """What the train stage does with a trained model."""
    checkpoint.save(directory, trained.net, trained.approach, tiny_data.vocab, TINY_TEXT, trained.metadata["seeds"])


def assert_same_logits(saved, loaded, tiny_data, ctx) -> np.ndarray:
    """``loaded`` (from a checkpoint of ``saved``) gives ``saved``'s test logits; returns them."""
    before = predict_logits(saved, tiny_data.test, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    after = predict_logits(loaded, tiny_data.test, tiny_data.max_tokens, tiny_data.pad_id, ctx)
    np.testing.assert_allclose(after, before, atol=1e-6, rtol=0)
    return before


def test_roundtrip_gives_identical_predictions(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "models" / "tiny"
    save(directory, trained, tiny_data)
    assert sorted(p.name for p in directory.iterdir()) == sorted([PARAMS_FILE, METADATA_FILE])
    net, metadata = load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert metadata.pop("weights_sha256") == sha256_file(directory / PARAMS_FILE)
    assert metadata == trained.metadata
    assert net.architecture == trained.approach.architecture
    # The architecture params.yaml gives and the one the checkpoint records agree by equality.
    checkpoint.check_matches_params(metadata, trained.approach, TINY_TEXT, tiny_data.pad_id, directory)
    before = assert_same_logits(trained.net, net, tiny_data, ctx)
    assert np.ptp(before, axis=0).max() > 0.1  # a trained model, not a constant


@pytest.mark.parametrize("overrides", [
    {"hidden": [6, 6], "fused": True, "dense": [8], "pooling": "max"},
    {"hidden": [5, 6], "bidirectional": True, "dense": [8], "pooling": "meanmax"},
], ids=["fused", "stacked_bidirectional"])
def test_every_architecture_kind_roundtrips(tmp_path, tiny_data, ctx, overrides):
    """A fused and a stacked bidirectional checkpoint load back to the same predictions (the tiny DVC test
    project trains only a single-layer and a stacked bidirectional approach: tests/dvc_project.py)."""
    approach = Approach("kind", TINY_MAX_TOKENS, tiny_architecture(**overrides), TINY_SETTINGS)
    net = build_model(approach.architecture, tiny_data.vocab_size, ctx, seed=3)
    directory = tmp_path / "models" / "kind"
    checkpoint.save(directory, net, approach, tiny_data.vocab, TINY_TEXT, [3])
    loaded, _ = load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert loaded.architecture == approach.architecture
    before = assert_same_logits(net, loaded, tiny_data, ctx)
    assert np.ptp(before, axis=0).max() > 1e-4  # documents get different logits: not a constant output


def test_a_checkpoint_from_other_tokenization_settings_is_refused(tmp_path, tiny_data, trained):
    """A vocab.stop_words (or lowercase) edited after training would feed the model other words."""
    edited = dataclasses.replace(TINY_TEXT, stop_words="english", lowercase=False)
    with pytest.raises(CheckpointError) as err:
        checkpoint.check_matches_params(trained.metadata, trained.approach, edited, tiny_data.pad_id, tmp_path)
    assert "lowercase is True in the checkpoint but False in params.yaml vocab.lowercase" in str(err.value)
    assert "stop_words is None in the checkpoint but 'english' in params.yaml vocab.stop_words" in str(err.value)


def test_foreign_vocabulary_size_is_refused(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "tiny"
    save(directory, trained, tiny_data)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(directory, tiny_data.vocab_size + 7, ctx)
    message = str(err.value)
    assert f"{tiny_data.vocab_size} entries" in message
    assert f"has {tiny_data.vocab_size + 7}" in message
    assert "train@tiny" in message


@pytest.mark.parametrize("missing", [PARAMS_FILE, METADATA_FILE])
def test_missing_checkpoint_file(tmp_path, tiny_data, trained, ctx, missing):
    directory = tmp_path / "tiny"
    save(directory, trained, tiny_data)
    (directory / missing).unlink()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert missing in str(err.value)
    assert "not found" in str(err.value)


def test_missing_checkpoint_directory(tmp_path, ctx):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "never_trained", 10, ctx)


def test_weights_that_do_not_fit_the_metadata(tmp_path, tiny_data, trained, ctx):
    directory = tmp_path / "tiny"
    save(directory, trained, tiny_data)
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    metadata["model"]["hidden"] = [9]
    (directory / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_checkpoint(directory, tiny_data.vocab_size, ctx)


def test_predict_texts_rows_are_probabilities(tiny_data, trained, ctx):
    texts = tiny_data.test_texts[:9] + ["", "qwertyuiop zxcvb", "!!! ..."]
    probs = predict_texts([trained.net], texts, tiny_data.vocab, trained.metadata["preprocessing"], ctx, batch_size=4)
    assert probs.shape == (len(texts), 4)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_texts_empty_string_alone(tiny_data, trained, ctx):
    probs = predict_texts([trained.net], [""], tiny_data.vocab, trained.metadata["preprocessing"], ctx)
    assert probs.shape == (1, 4)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)


def test_predict_texts_matches_the_cached_path_and_keeps_order(tiny_data, trained, ctx):
    texts = tiny_data.test_texts[:12]
    probs = predict_texts([trained.net], texts, tiny_data.vocab, trained.metadata["preprocessing"], ctx)
    cached = softmax(predict_logits(trained.net, tiny_data.test.subset(np.arange(12)), tiny_data.max_tokens,
                                    tiny_data.pad_id, ctx), axis=1)
    np.testing.assert_allclose(probs, cached, atol=1e-6, rtol=0)
    reversed_probs = predict_texts([trained.net], texts[::-1], tiny_data.vocab, trained.metadata["preprocessing"], ctx)
    np.testing.assert_allclose(reversed_probs[::-1], probs, atol=1e-6, rtol=0)
    upper = predict_texts([trained.net], [t.upper() for t in texts], tiny_data.vocab,
                          trained.metadata["preprocessing"], ctx)
    np.testing.assert_allclose(upper, probs, atol=1e-6, rtol=0)  # lower-cased like the vocabulary


def test_texts_to_split_uses_unk_for_unknown_words(tiny_data):
    split = texts_to_split(["Football qwertyuiop", ""], tiny_data.vocab, lowercase=True, stop_words=None)
    assert split.lengths.tolist() == [2, 0]
    assert split.ids[0] == tiny_data.vocab.token_to_idx["football"]
    assert split.ids[1] == tiny_data.vocab.token_to_idx["<unk>"]


def test_predict_logits_on_an_empty_split(tiny_data, trained, ctx):
    split = texts_to_split([], tiny_data.vocab, lowercase=True, stop_words=None)
    assert predict_logits(trained.net, split, tiny_data.max_tokens, tiny_data.pad_id, ctx).shape == (0, 4)


def test_extra_seed_weights_get_the_same_checks_as_the_main_ones(tmp_path, tiny_data, trained, ctx):
    """A seed's weights are hash-checked, loaded and refused when NaN exactly like model.params."""
    directory, nan_dir = tmp_path / "tiny", tmp_path / "nan"
    checkpoint.save(directory, trained.net, trained.approach, tiny_data.vocab, TINY_TEXT,
                    [*trained.metadata["seeds"], 99], extra_seeds={99: trained.net})
    weight = next(iter(trained.net.collect_params().values()))
    saved = weight.data().copy()
    try:
        weight.set_data(saved * float("nan"))
        checkpoint.write(nan_dir, trained.net, {})  # what a diverged seed's training would write
    finally:
        weight.set_data(saved)
    net, metadata = load_checkpoint(directory, tiny_data.vocab_size, ctx)
    assert len(checkpoint.load_members(net, metadata, directory, ctx)) == 2
    seed_file = directory / checkpoint.seed_params_file(99)
    seed_file.write_bytes((nan_dir / PARAMS_FILE).read_bytes())
    metadata["seed_weights_sha256"]["99"] = sha256_file(seed_file)
    with pytest.raises(CheckpointError, match="seed-99.params: weight .* holds NaN or infinite values"):
        checkpoint.load_members(net, metadata, directory, ctx)
    metadata["seed_weights_sha256"]["99"] = "0" * 64
    with pytest.raises(CheckpointError, match="seed-99.params: the weights file is not the one"):
        checkpoint.load_members(net, metadata, directory, ctx)


def test_an_approach_with_several_seeds_predicts_with_their_mean_probabilities(tmp_path, tiny_data, trained, ctx):
    """train.seeds > 1: load_members gives every seed's model, each with its own weights, and the
    approach's probabilities (evaluate, predict, explain) are their mean, not the first seed's."""
    other = build_model(trained.approach.architecture, tiny_data.vocab_size, ctx, seed=7)  # other weights
    directory = tmp_path / "tiny"
    checkpoint.save(directory, trained.net, trained.approach, tiny_data.vocab, TINY_TEXT,
                    [*trained.metadata["seeds"], 99], extra_seeds={99: other})
    net, metadata = load_checkpoint(directory, tiny_data.vocab_size, ctx)
    members = checkpoint.load_members(net, metadata, directory, ctx)
    split, args = tiny_data.test, (tiny_data.max_tokens, tiny_data.pad_id, ctx)
    first, second = (softmax(predict_logits(m, split, *args), axis=1) for m in members)
    np.testing.assert_allclose(first, softmax(predict_logits(trained.net, split, *args), axis=1), atol=1e-6)
    np.testing.assert_allclose(second, softmax(predict_logits(other, split, *args), axis=1), atol=1e-6)
    assert np.abs(first - second).max() > 0.01
    np.testing.assert_allclose(predict_probabilities(members, split, *args), (first + second) / 2, atol=1e-6)
    texts = ["Stocks fell as oil prices rose", "The team won the final match"]
    prep = metadata["preprocessing"]
    np.testing.assert_allclose(predict_texts(members, texts, tiny_data.vocab, prep, ctx),
                               (predict_texts(members[:1], texts, tiny_data.vocab, prep, ctx)
                                + predict_texts(members[1:], texts, tiny_data.vocab, prep, ctx)) / 2, atol=1e-6)
