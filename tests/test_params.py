"""pipeline.params: the repository's params.yaml loads; every broken rule is refused with its key path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline import params
from pipeline.params import ParamsError

PARAMS_YAML = Path(__file__).resolve().parent.parent / "params.yaml"


def test_repository_params_load_and_fill_defaults():
    loaded = params.load(PARAMS_YAML)
    assert set(loaded.approaches) == {"lstm_25", "lstm_50_dense", "bilstm_50", "lstm3_fused",
                                      "lstm3_stacked", "bilstm3"}
    assert loaded.approaches["lstm3_fused"].architecture.fused is True
    # approach_defaults fill in the keys an approach leaves out.
    assert loaded.approaches["lstm_25"].architecture.fused is False
    assert loaded.approaches["lstm_25"].max_tokens == 25 and loaded.approaches["bilstm3"].max_tokens == 50
    assert loaded.approaches["lstm3_stacked"].architecture.hidden == (50, 60, 75)
    assert loaded.approach("lstm_25").train.epochs == loaded.train.epochs
    assert loaded.train.seeds == 1 and all(loaded.approach(name).train == loaded.train for name in loaded.approaches)


def test_settings_are_frozen():
    loaded = params.load(PARAMS_YAML)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.train.epochs = 3  # type: ignore[misc]


def test_approach_defaults_are_validated_under_their_own_path(params_variant):
    def modify(data):
        data["approach_defaults"]["dropout"] = 1.5
    with pytest.raises(ParamsError, match=r"approach_defaults\.dropout = 1\.5: expected a number in \[0, 1\)"):
        params.load(params_variant(modify))


def test_approach_defaults_unknown_key_suggests(params_variant):
    def modify(data):
        data["approach_defaults"]["pooloing"] = "max"
    with pytest.raises(ParamsError, match=r"unknown key 'approach_defaults\.pooloing' \(did you mean 'pooling'"):
        params.load(params_variant(modify))


def test_an_approach_value_wins_over_the_default(params_variant):
    def modify(data):
        data["approach_defaults"]["pooling"] = "mean"
        data["approaches"]["bilstm3"]["pooling"] = "last"
    loaded = params.load(params_variant(modify))
    assert loaded.approaches["bilstm3"].architecture.pooling == "last"
    assert loaded.approaches["lstm_50_dense"].architecture.pooling == "mean"


def test_yaml_anchors_used_normally_are_accepted(tmp_path):
    text = PARAMS_YAML.read_text(encoding="utf-8").replace("  lstm_50_dense:\n    hidden:\n    - 75\n",
                                                           "  lstm_50_dense:\n    hidden: &one [75]\n")
    text = text.replace("  bilstm_50:\n    hidden:\n    - 75\n", "  bilstm_50:\n    hidden: *one\n")
    assert "*one" in text
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    assert params.load(path).approaches["bilstm_50"].architecture.hidden == (75,)


def test_unmodified_copy_loads(params_variant):
    assert params.load(params_variant()).seed == 42


@pytest.mark.parametrize("section, wrong, right", [
    ("train", "epoch", "epochs"),
    ("train", "learning_rat", "learning_rate"),
    ("vocab", "min_frq", "min_freq"),
    (None, "approach", "approaches"),
])
def test_unknown_key_suggests_the_close_one(params_variant, section, wrong, right):
    def modify(data):
        target = data if section is None else data[section]
        target[wrong] = target.get(right, 1)
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    message = str(err.value)
    assert f"unknown key '{wrong if section is None else section + '.' + wrong}'" in message
    assert f"did you mean '{right}'" in message


def test_unknown_key_inside_an_approach(params_variant):
    def modify(data):
        data["approaches"]["lstm_25"]["hiden"] = [10]
    with pytest.raises(ParamsError, match=r"approaches\.lstm_25\.hiden.*did you mean 'hidden'"):
        params.load(params_variant(modify))


@pytest.mark.parametrize("section, key, value, path", [
    ("train", "epochs", "15", "train.epochs"),
    ("train", "epochs", 2.5, "train.epochs"),
    ("train", "batch_size", True, "train.batch_size"),
    ("train", "learning_rate", "fast", "train.learning_rate"),
    ("train", "lr_schedule", "linear", "train.lr_schedule"),
    ("train", "embedding_init", "glove", "train.embedding_init"),
    ("train", "embedding_std", 0, "train.embedding_std"),
    ("embeddings", "window", 0, "embeddings.window"),
    ("embeddings", "context_smoothing", 1.5, "embeddings.context_smoothing"),
    ("vocab", "lowercase", "yes", "vocab.lowercase"),
    ("vocab", "max_size", 0, "vocab.max_size"),
    ("vocab", "stop_words", "french", "vocab.stop_words"),
    ("data", "val_fraction", "0.1", "data.val_fraction"),
    ("explain", "doc_indices", 4559, "explain.doc_indices"),
    (None, "seed", -1, "seed"),
])
def test_wrong_types_are_refused(params_variant, section, key, value, path):
    def modify(data):
        (data if section is None else data[section])[key] = value
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert f"{path} = {value!r}" in str(err.value)
    assert "expected" in str(err.value)


@pytest.mark.parametrize("key, value", [
    ("max_tokens", 0), ("embed_len", 0), ("max_tokens", "25"), ("bidirectional", 1),
    ("pooling", "sum"), ("dropout", 1.0), ("dense", 100),
])
def test_approach_values_out_of_range(params_variant, key, value):
    def modify(data):
        data["approaches"]["bilstm3"][key] = value
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert f"approaches.bilstm3.{key} = {value!r}" in str(err.value)


def test_an_approach_wider_than_the_word_vectors_is_refused_unless_it_starts_from_random_vectors(params_variant):
    def wide(data):
        data["approaches"]["bilstm3"]["embed_len"] = 64
    with pytest.raises(ParamsError, match=r"approaches\.bilstm3\.embed_len = 64: expected at most "
                                          r"embeddings\.dim = 40 when train\.embedding_init is ppmi_svd"):
        params.load(params_variant(wide))

    def wide_and_random(data):
        wide(data)
        data["approaches"]["bilstm3"]["train"] = {"embedding_init": "xavier"}
    assert params.load(params_variant(wide_and_random)).approach("bilstm3").architecture.embed_len == 64


def test_empty_hidden_is_refused(params_variant):
    def modify(data):
        data["approaches"]["lstm_25"]["hidden"] = []
    with pytest.raises(ParamsError, match=r"approaches\.lstm_25\.hidden = \[\]: expected a non-empty list"):
        params.load(params_variant(modify))


def test_zero_hidden_size_names_the_list_position(params_variant):
    def modify(data):
        data["approaches"]["lstm3_stacked"]["hidden"] = [75, 0]
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert "approaches.lstm3_stacked.hidden[1]" in str(err.value)
    assert "= 0" in str(err.value)


def test_zero_dense_size_names_the_list_position(params_variant):
    def modify(data):
        data["approaches"]["lstm_50_dense"]["dense"] = [100, -3]
    with pytest.raises(ParamsError, match=r"approaches\.lstm_50_dense\.dense\[1\] = -3"):
        params.load(params_variant(modify))


def test_fused_needs_equal_sizes(params_variant):
    def modify(data):
        data["approaches"]["lstm3_fused"]["hidden"] = [75, 60, 75]
    with pytest.raises(ParamsError, match=r"approaches\.lstm3_fused\.hidden.*equal sizes"):
        params.load(params_variant(modify))


@pytest.mark.parametrize("section, key, value", [
    ("train", "learning_rate", 0),
    ("train", "learning_rate", -0.001),
    ("train", "epochs", 0),
    ("train", "batch_size", 0),
    ("train", "bucket_width", 0),
    ("train", "patience", 0),
    ("train", "clip_gradient", 0),
    ("train", "warmup_epochs", -1),
    ("train", "word_dropout", 1.0),
    ("data", "val_fraction", 1.0),
    ("data", "val_fraction", 0),
    ("explain", "num_samples", 0),
    ("explain", "num_features", 0),
    ("vocab", "min_freq", 0),
])
def test_out_of_range_values(params_variant, section, key, value):
    def modify(data):
        data[section][key] = value
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert f"{section}.{key} = {value!r}" in str(err.value)


@pytest.mark.parametrize("index", [7600, -1, 10**6])
def test_doc_indices_out_of_range(params_variant, index):
    def modify(data):
        data["explain"]["doc_indices"] = [3, index]
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert f"explain.doc_indices[1] = {index}" in str(err.value)
    assert "7600" in str(err.value)


def test_doc_indices_at_the_edges_are_accepted(params_variant):
    def modify(data):
        data["explain"]["doc_indices"] = [0, 7599]
    assert params.load(params_variant(modify)).explain.doc_indices == (0, 7599)


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "-dash", "with space", "x" * 65, "",
                                  "name\n", "lstm;rm"])
def test_unsafe_approach_names_are_refused(params_variant, name):
    def modify(data):
        data["approaches"][name] = data["approaches"].pop("lstm_25")
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert "not safe as a file and stage name" in str(err.value)
    assert repr(name) in str(err.value)


def test_safe_approach_names_are_accepted(params_variant):
    def modify(data):
        data["approaches"]["My-lstm_2"] = data["approaches"].pop("lstm_25")
    assert "My-lstm_2" in params.load(params_variant(modify)).approaches


def test_a_baseline_may_not_share_an_approach_name(params_variant):
    def modify(data):
        data["baselines"]["LSTM_25"] = data["baselines"].pop("tfidf_lr")
    with pytest.raises(ParamsError, match="names 'approaches.lstm_25' and 'LSTM_25' differ only in case"):
        params.load(params_variant(modify))


@pytest.mark.parametrize("key, value, expected", [
    ("C", [], "a non-empty list of numbers > 0"),
    ("C", [1.0, 0], "a non-empty list of numbers > 0"),
    ("C", 1.0, "a non-empty list of numbers > 0"),
    ("ngram_max", 4, "an integer in [1, 3]"),
    ("model", "random_forest", "one of logistic_regression, linear_svm"),
    ("max_iter", 0, "an integer >= 1"),
])
def test_bad_baseline_settings_are_refused(params_variant, key, value, expected):
    def modify(data):
        data["baselines"]["tfidf_lr"][key] = value
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert f"baselines.tfidf_lr.{key} = {value!r}: expected {expected}" in str(err.value)


def test_unknown_baseline_name_suggests_the_close_one(params_variant):
    loaded = params.load(params_variant(lambda data: None))
    with pytest.raises(ParamsError, match="no baseline named 'tfidf_rl' \\(did you mean 'tfidf_lr'"):
        loaded.baseline("tfidf_rl")


@pytest.mark.parametrize("section", ["train", "approaches", "explain", "data", "seed", "reference"])
def test_missing_section(params_variant, section):
    def modify(data):
        del data[section]
    with pytest.raises(ParamsError, match=f"missing key '{section}'"):
        params.load(params_variant(modify))


def test_missing_nested_key(params_variant):
    def modify(data):
        del data["approach_defaults"]["embed_len"]
    with pytest.raises(ParamsError, match=r"missing key 'approaches\.\w+\.embed_len' \(and approach_defaults"):
        params.load(params_variant(modify))


def test_missing_hidden(params_variant):
    def modify(data):
        del data["approaches"]["bilstm_50"]["hidden"]
    with pytest.raises(ParamsError, match=r"missing key 'approaches\.bilstm_50\.hidden'"):
        params.load(params_variant(modify))


def test_empty_approaches_refused(params_variant):
    def modify(data):
        data["approaches"] = {}
    with pytest.raises(ParamsError, match="approaches = {}"):
        params.load(params_variant(modify))


def test_reference_accuracy_range(params_variant):
    def modify(data):
        data["reference"]["lstm_25"] = 81.03
    with pytest.raises(ParamsError, match=r"reference\.lstm_25 = 81\.03"):
        params.load(params_variant(modify))


def test_invalid_yaml_reports_the_line(tmp_path):
    lines = PARAMS_YAML.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    lines[index] = "seed: 42: 43"  # "mapping values are not allowed here"
    path = tmp_path / "params.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ParamsError) as err:
        params.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line {index + 1}: not valid YAML")


def test_invalid_yaml_line_number_in_a_nested_block(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 42\ndata:\n  val_fraction: 0.1\n  url: a: b\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"params\.yaml: line 4: not valid YAML"):
        params.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        params.load(tmp_path / "nope.yaml")


def test_top_level_not_a_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="expected a mapping"):
        params.load(path)


@pytest.mark.parametrize("key, value, fragment", [
    ("epochs", 0, "approaches.lstm_25.train.epochs = 0"),
    ("learning_rate", 0, "approaches.lstm_25.train.learning_rate = 0"),
    ("lr_schedule", "step", "approaches.lstm_25.train.lr_schedule = 'step'"),
    ("epoch", 3, "did you mean 'epochs'"),
])
def test_train_overrides_are_validated(params_variant, key, value, fragment):
    def modify(data):
        data["approaches"]["lstm_25"]["train"] = {key: value}
    with pytest.raises(ParamsError) as err:
        params.load(params_variant(modify))
    assert fragment in str(err.value)


def test_train_overrides_must_be_a_mapping(params_variant):
    def modify(data):
        data["approaches"]["lstm_25"]["train"] = [1, 2]
    with pytest.raises(ParamsError, match=r"approaches\.lstm_25\.train = \[1, 2\]"):
        params.load(params_variant(modify))


def test_valid_train_override_is_applied(params_variant):
    def modify(data):
        data["approaches"]["lstm_25"]["train"] = {"epochs": 3, "patience": 2}
    loaded = params.load(params_variant(modify))
    settings = loaded.approach("lstm_25").train
    assert settings.epochs == 3 and settings.patience == 2
    assert settings.batch_size == loaded.train.batch_size
    assert loaded.approach("bilstm3").train.epochs == loaded.train.epochs


def test_unknown_approach_lookup_suggests():
    loaded = params.load(PARAMS_YAML)
    with pytest.raises(ParamsError, match="no approach named 'lstm25'.*did you mean 'lstm_25'"):
        loaded.approach("lstm25")


# Every approach's settings as params.yaml gave them before `approach_defaults` (issue 10): moving the
# shared values into one section must not change what any approach trains with. Since then one value
# changed on purpose: lstm_25 reads its last valid step (chosen on validation, README).
EFFECTIVE = {  # max_tokens, hidden, bidirectional, fused, dense, pooling
    "lstm_25": (25, (75,), False, False, (), "last"),
    "lstm_50_dense": (50, (75,), False, False, (100,), "max"),
    "bilstm_50": (50, (75,), True, False, (100,), "max"),
    "lstm3_fused": (50, (75, 75, 75), False, True, (100,), "max"),
    "lstm3_stacked": (50, (50, 60, 75), False, False, (100,), "max"),
    "bilstm3": (50, (75, 75, 75), True, False, (100,), "max"),
}


def test_repository_approaches_resolve_to_the_settings_they_always_had():
    loaded = params.load(PARAMS_YAML)
    for name, (max_tokens, hidden, bidirectional, fused, dense, pooling) in EFFECTIVE.items():
        a = loaded.approaches[name]
        assert a.max_tokens == max_tokens, name
        assert a.architecture == params.Architecture(embed_len=40, hidden=hidden, bidirectional=bidirectional,
                                                     fused=fused, dense=dense, pooling=pooling, dropout=0.5,
                                                     embed_dropout=0.2), name
        assert a.train == loaded.train, name


@pytest.mark.parametrize("hidden", [[8, 7.5], [8, "8"], [True]])
def test_hidden_sizes_must_be_integers(params_variant, hidden):
    def modify(data):
        data["approaches"]["lstm_25"]["hidden"] = hidden
    with pytest.raises(ParamsError, match=r"approaches\.lstm_25\.hidden\[\d\] = .*: expected an integer >= 1"):
        params.load(params_variant(modify))
