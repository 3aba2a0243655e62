"""pipeline.tokenize and pipeline.vocab: one lower-cased form for counting and lookup; JSON roundtrip."""

from __future__ import annotations

import json

import pytest

from pipeline.dataset import vectorize
from pipeline.params import STOP_WORD_LISTS
from pipeline.tokenize import TOKEN_PATTERN, stop_word_set, tokenize, tokenize_all
from pipeline.vocab import PAD, UNK, build_vocab, load_vocab, save_vocab


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


def test_load_missing_vocab(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_vocab(tmp_path / "vocab.json")
    assert "vocab.json" in str(err.value)
    assert "tokenize_vocab" in str(err.value)


def test_load_not_json(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text("this is not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not a GluonNLP vocabulary JSON"):
        load_vocab(path)


@pytest.mark.parametrize("content", [{"hello": "world"}, [1, 2, 3]])
def test_load_json_that_is_not_a_vocab(tmp_path, content):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    # A clear ValueError naming the file (what the stages turn into a one-line message), not a
    # TypeError/AttributeError traceback from inside gluonnlp.
    with pytest.raises(ValueError) as err:
        load_vocab(path)
    assert str(path) in str(err.value)


def test_load_vocab_with_other_special_tokens(tmp_path):
    import gluonnlp
    other = gluonnlp.Vocab(gluonnlp.data.count_tokens(["a", "b"]), unknown_token="<oov>",
                           padding_token="<blank>", bos_token=None, eos_token=None)
    path = tmp_path / "vocab.json"
    path.write_text(other.to_json(), encoding="utf-8")
    with pytest.raises(ValueError, match="expected unknown token '<unk>' and padding token '<pad>'"):
        load_vocab(path)
