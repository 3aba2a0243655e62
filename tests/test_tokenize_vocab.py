"""pipeline.tokenize and pipeline.vocab: one lower-cased form for counting and lookup; JSON roundtrip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.dataset import vectorize
from pipeline.params import STOP_WORD_LISTS
from pipeline.tokenize import TOKEN_PATTERN, stop_word_set, tokenize, tokenize_all
from pipeline.vocab import PAD, UNK, build_vocab, load_token_index, load_vocab, save_vocab
from tests.conftest import REPO


def test_tokenize_regex_and_lowercase():
    assert TOKEN_PATTERN == r"\w+"
    assert tokenize("Wall St. Bears Claw-Back (Reuters)") == ["wall", "st", "bears", "claw", "back",
                                                             "reuters"]
    assert tokenize("U.S. 3-1 win_streak") == ["u", "s", "3", "1", "win_streak"]
    assert tokenize("Apple", lowercase=False) == ["Apple"]
    assert tokenize("") == []
    assert tokenize("  --- ...  ") == []


def test_stop_words_are_removed_not_mapped_to_unk():
    text = "The Fed raises rates, and it is not over for the markets"
    assert tokenize(text, stop_words="english") == ["fed", "raises", "rates", "markets"]
    assert tokenize(text, stop_words=None) == tokenize(text)  # null keeps every word
    # Matched after lower-casing, as scikit-learn's TfidfVectorizer(stop_words="english") does.
    assert tokenize("The fed", lowercase=False, stop_words="english") == ["The", "fed"]
    assert tokenize("of the and", stop_words="english") == []
    assert list(tokenize_all(["the Fed", "rates"], stop_words="english")) == [["fed"], ["rates"]]
    # The same list scikit-learn uses, so the TF-IDF baselines and the LSTMs see the same words.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    assert stop_word_set("english") == ENGLISH_STOP_WORDS and len(stop_word_set("english")) == 318
    assert stop_word_set(None) == frozenset()
    assert all(stop_word_set(name) for name in STOP_WORD_LISTS)  # every list params.yaml accepts exists
    with pytest.raises(ValueError, match="unknown stop-word list 'french'.*english"):
        stop_word_set("french")


def test_tokenize_all_is_lazy_and_per_text():
    gen = tokenize_all(["A b", "", "C"])
    assert not isinstance(gen, list)
    assert list(gen) == [["a", "b"], [], ["c"]]


def test_case_variants_share_one_id():
    texts = ["Apple apple APPLE", "aPPle pie"]
    vocab = build_vocab(tokenize_all(texts))
    ids = vectorize(tokenize_all(["Apple apple APPLE"]), vocab.token_to_idx, 0, [0]).ids.tolist()
    assert len(set(ids)) == 1
    assert ids[0] not in (0, 1)
    assert vocab.token_to_idx["apple"] == ids[0]
    assert "Apple" not in vocab.token_to_idx  # counted lower-cased only
    assert vocab["APPLE".lower()] == ids[0]


def test_special_tokens_and_order():
    vocab = build_vocab([["b", "a", "b", "c", "b", "a"]])
    assert vocab.token_to_idx[UNK] == 0
    assert vocab.token_to_idx[PAD] == 1
    assert vocab.unknown_token == UNK and vocab.padding_token == PAD
    assert vocab.idx_to_token[:2] == [UNK, PAD]
    assert vocab.idx_to_token[2:] == ["b", "a", "c"]  # most frequent first
    assert len(vocab) == 5
    assert vocab["never-seen"] == 0
    assert "<bos>" not in vocab.token_to_idx and "<eos>" not in vocab.token_to_idx


def test_min_freq_and_max_size():
    tokens = [["x"] * 5 + ["y"] * 3 + ["z"] * 2 + ["w"]]
    assert build_vocab(tokens, min_freq=2).idx_to_token[2:] == ["x", "y", "z"]
    assert build_vocab(tokens, min_freq=3).idx_to_token[2:] == ["x", "y"]
    assert build_vocab(tokens, max_size=2).idx_to_token[2:] == ["x", "y"]
    assert len(build_vocab(tokens, min_freq=1, max_size=None)) == 2 + 4
    assert len(build_vocab(tokens, min_freq=6)) == 2


# Both readers of data/vocab.json: the GluonNLP Vocab, and the token index of the stages that need no more.
LOADERS = [load_vocab, load_token_index]


def test_save_load_roundtrip(tmp_path, corpus_rows):
    vocab = build_vocab(tokenize_all(f"{t} {d}" for _, t, d in corpus_rows))
    path = tmp_path / "sub" / "vocab.json"
    save_vocab(vocab, path)
    loaded = load_vocab(path)
    assert loaded.idx_to_token == vocab.idx_to_token
    assert loaded.token_to_idx == vocab.token_to_idx
    assert loaded.unknown_token == UNK and loaded.padding_token == PAD
    assert len(loaded) == len(vocab) > 10
    assert not list(tmp_path.joinpath("sub").glob("*.tmp"))
    # Read without GluonNLP: the same words at the same indices.
    assert load_token_index(path) == dict(vocab.token_to_idx)


def test_the_token_index_is_read_without_gluonnlp(tmp_path):
    path = tmp_path / "vocab.json"
    save_vocab(build_vocab([["a", "b", "a"]]), path)
    code = ("import json, sys; from pipeline.vocab import load_token_index; "
            f"index = load_token_index({str(path)!r}); "
            "print(json.dumps([index, 'gluonnlp' in sys.modules, 'mxnet' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [{"<unk>": 0, "<pad>": 1, "a": 2, "b": 3}, False, False]


@pytest.mark.parametrize("load", LOADERS)
def test_load_missing_vocab(tmp_path, load):
    with pytest.raises(FileNotFoundError) as err:
        load(tmp_path / "vocab.json")
    assert "vocab.json" in str(err.value)
    assert "tokenize_vocab" in str(err.value)


@pytest.mark.parametrize("load", LOADERS)
def test_load_not_json(tmp_path, load):
    path = tmp_path / "vocab.json"
    path.write_text("this is not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not a GluonNLP vocabulary JSON"):
        load(path)


@pytest.mark.parametrize("load", LOADERS)
@pytest.mark.parametrize("content", [{"hello": "world"}, [1, 2, 3], {"idx_to_token": ["<unk>", "<pad>", "a", "a"]},
                                     {"idx_to_token": "<unk> <pad>"}])
def test_load_json_that_is_not_a_vocab(tmp_path, content, load):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    # A clear ValueError naming the file (what the stages turn into a one-line message), not a
    # TypeError/AttributeError traceback from inside gluonnlp.
    with pytest.raises(ValueError) as err:
        load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("load", LOADERS)
def test_load_vocab_with_other_special_tokens(tmp_path, load):
    import gluonnlp
    other = gluonnlp.Vocab(gluonnlp.data.count_tokens(["a", "b"]), unknown_token="<oov>",
                           padding_token="<blank>", bos_token=None, eos_token=None)
    path = tmp_path / "vocab.json"
    path.write_text(other.to_json(), encoding="utf-8")
    with pytest.raises(ValueError, match="expected unknown token '<unk>' and padding token '<pad>', found "
                                         "'<oov>' and '<blank>'"):
        load(path)
