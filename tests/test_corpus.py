"""pipeline.corpus.read_corpus: canonical AG News rows parse; malformed files fail with file:line."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.corpus import CorpusError, label_counts, read_corpus

GOOD = [(3, "Wall St. Bears Claw Back", "Reuters - Short-sellers are seeing green again."),
        (1, 'Talks "resume" in Cairo', "Diplomats met on Monday, the ministry said."),
        (4, "New chip", ""),
        (2, "", "The home team won 3-1.")]


def test_good_file_is_parsed(tmp_path, write_csv):
    path = write_csv(tmp_path / "train.csv", GOOD)
    corpus = read_corpus(path)
    assert len(corpus) == 4
    assert corpus.texts[0] == "Wall St. Bears Claw Back Reuters - Short-sellers are seeing green again."
    assert corpus.texts[1] == 'Talks "resume" in Cairo Diplomats met on Monday, the ministry said.'
    assert corpus.texts[2] == "New chip"  # an empty description adds no trailing space
    assert corpus.texts[3] == "The home team won 3-1."
    assert corpus.labels.dtype == np.int32
    assert corpus.labels.tolist() == [2, 0, 3, 1]


def test_title_and_description_joined_with_one_space(tmp_path, write_csv):
    corpus = read_corpus(write_csv(tmp_path / "a.csv", [(1, "Title", "Description.")]))
    assert corpus.texts == ["Title Description."]


def test_synthetic_corpus_roundtrip(agnews_csv, corpus_rows):
    corpus = read_corpus(agnews_csv)
    assert len(corpus) == len(corpus_rows)
    assert corpus.texts == [f"{t} {d}" for _, t, d in corpus_rows]
    assert corpus.labels.tolist() == [label - 1 for label, _, _ in corpus_rows]
    assert label_counts(corpus.labels) == {"World": 30, "Sports": 30, "Business": 30, "Sci/Tech": 30}


def test_crlf_line_endings(tmp_path, write_csv):
    path = write_csv(tmp_path / "crlf.csv", GOOD, newline="\r\n")
    assert b"\r\n" in path.read_bytes()
    corpus = read_corpus(path)
    assert corpus.texts == read_corpus(write_csv(tmp_path / "lf.csv", GOOD)).texts
    assert not any("\r" in text for text in corpus.texts)
    assert corpus.labels.tolist() == [2, 0, 3, 1]


def test_quoted_newline_inside_a_field_keeps_line_numbers(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('"1","two\nline title","desc"\n"2","x","y"\n"9","bad","label"\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"multi\.csv:4: label 9 is outside 1\.\.4"):
        read_corpus(path)


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "absent.csv")


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \r\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert str(path) in str(err.value)
    assert "empty" in str(err.value)


def test_header_row(tmp_path, write_csv):
    path = write_csv(tmp_path / "header.csv", [("label", "title", "description")] + GOOD)
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:1:" in str(err.value)
    assert "header" in str(err.value)


@pytest.mark.parametrize("bad_row, columns", [(("1", "only title"), 2), (("1", "a", "b", "c"), 4)])
def test_wrong_column_count(tmp_path, write_csv, bad_row, columns):
    path = write_csv(tmp_path / "cols.csv", GOOD[:2] + [bad_row] + GOOD[2:])
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:3:" in str(err.value)
    assert f"found {columns} columns, expected 3" in str(err.value)


@pytest.mark.parametrize("label", ["x", "1.0", "", "one", "²"])
def test_non_integer_label(tmp_path, write_csv, label):
    path = write_csv(tmp_path / "label.csv", GOOD[:1] + [(label, "t", "d")])
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:2:" in str(err.value)
    assert "not an integer" in str(err.value)


@pytest.mark.parametrize("label", [0, 5, -1, 40])
def test_label_out_of_range(tmp_path, write_csv, label):
    path = write_csv(tmp_path / "range.csv", GOOD + [(label, "t", "d")])
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:5: label {label} is outside 1..4" in str(err.value)


@pytest.mark.parametrize("title, description", [("", ""), ("  ", " ")])
def test_empty_title_and_description(tmp_path, write_csv, title, description):
    path = write_csv(tmp_path / "blank.csv", GOOD[:3] + [(2, title, description)])
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:4:" in str(err.value)
    assert "both empty" in str(err.value)


def test_invalid_utf8(tmp_path, write_csv):
    path = write_csv(tmp_path / "latin1.csv", GOOD)
    path.write_bytes(path.read_bytes() + b'"1","Caf\xe9 opens","in Paris"\n')
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:5:" in str(err.value)
    assert "UTF-8" in str(err.value)


def test_unterminated_quote(tmp_path, write_csv):
    path = write_csv(tmp_path / "quote.csv", GOOD)
    path.write_bytes(path.read_bytes() + b'"2","open quote,"never closed\n')
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:5:" in str(err.value)
    assert "malformed CSV" in str(err.value)


def test_line_numbers_are_physical_lines_despite_unicode_separators(tmp_path):
    # U+2028 (line separator) and U+0085 (next line) occur in real news text inside quoted fields;
    # they are not CSV line breaks, so the bad row below is on physical line 3.
    path = tmp_path / "sep.csv"
    path.write_text('"1","a\u2028b","c\x85d"\n"2","x","y"\n"7","x","y"\n', encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert f"{path}:3: label 7" in str(err.value)


def test_unicode_separators_are_kept_in_the_text(tmp_path):
    path = tmp_path / "sep_ok.csv"
    path.write_text('"1","a\u2028b","c"\n"2","x","y"\n', encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ["a\u2028b c", "x y"]
    assert corpus.labels.tolist() == [0, 1]
