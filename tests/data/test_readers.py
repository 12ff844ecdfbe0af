"""traincraft.data.readers: formats, sniffing, chunked reads, writes, and every error path."""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traincraft.data import readers
from traincraft.data.readers import from_arrays, read_chunks, read_table, write_table
from traincraft.errors import DataError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _concat(chunks) -> pd.DataFrame:
    return pd.concat(list(chunks))


# --- the real SMS spam file -------------------------------------------------------------------
def test_spam_file_with_names(spam_file):
    df = read_table(spam_file, names=["label", "text"])
    assert df.shape == (4862, 2)
    assert list(df.columns) == ["label", "text"]
    assert df["label"].value_counts().to_dict() == {"ham": 4220, "spam": 642}
    assert df["text"].isna().sum() == 0
    assert isinstance(df.index, pd.RangeIndex) and df.index[-1] == 4861


def test_spam_file_header_detected_absent(spam_file):
    df = read_table(spam_file)
    assert df.shape == (4862, 2)
    assert list(df.columns) == ["column_1", "column_2"]
    assert df.loc[0, "column_1"] == "ham"  # the first line is data, not a header
    assert set(df["column_1"]) == {"ham", "spam"}


def test_spam_file_quotes_are_read_literally(spam_file):
    # line 139 ends in a lone quote, so the file's quotes are unbalanced: TSV without quoting,
    # every byte of a message kept as written (line 544 starts with a quote)
    df = read_table(spam_file, names=["label", "text"])
    assert df.loc[138, "text"].endswith('Gud ni8"')
    assert df.loc[543, "text"].startswith('"Superb Thought- ""Be grateful')


def test_spam_chunks_equal_whole_read(spam_file):
    whole = read_table(spam_file, names=["label", "text"])
    chunks = list(read_chunks(spam_file, chunksize=1000, names=["label", "text"]))
    assert [len(c) for c in chunks] == [1000, 1000, 1000, 1000, 862]
    assert chunks[1].index[0] == 1000
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)


# --- delimiters, headers, quoting --------------------------------------------------------------
def test_semicolon_csv(tmp_path):
    path = _write(tmp_path / "eu.csv", "name;price;city\nbread;1,5;Lyon\nwine;12,0;Dijon\n")
    df = read_table(path)
    assert list(df.columns) == ["name", "price", "city"]
    assert df["price"].tolist() == ["1,5", "12,0"]


def test_pipe_csv_with_explicit_delimiter(tmp_path):
    path = _write(tmp_path / "p.csv", "a|b\n1|2\n3|4\n")
    assert read_table(path, delimiter="|")["b"].tolist() == [2, 4]
    assert read_table(path)["b"].tolist() == [2, 4]  # sniffed too


def test_tsv_extension_means_tab(tmp_path):
    path = _write(tmp_path / "t.tsv", "text\tlabel\nhello, world\tham\nwin, now\tspam\n")
    df = read_table(path)
    assert list(df.columns) == ["text", "label"]
    assert df["text"].tolist() == ["hello, world", "win, now"]


def test_tsv_with_a_field_starting_with_a_quote(tmp_path):
    path = _write(tmp_path / "sms.tsv", 'ham\t"hello there\nspam\tfree "prize now\nham\tok\n')
    df = read_table(path, names=["label", "text"])
    assert df["text"].tolist() == ['"hello there', 'free "prize now', "ok"]


def test_tsv_written_with_quotes_round_trips(tmp_path):
    frame = pd.DataFrame({"text": ['say "hi"', "two\tcolumns", "plain"], "n": [1, 2, 3]})
    path = write_table(frame, tmp_path / "q.tsv")
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_header_detected_over_numbers(tmp_path):
    path = _write(tmp_path / "h.csv", "height,weight\n1.8,80\n1.6,55\n")
    assert list(read_table(path).columns) == ["height", "weight"]


def test_header_name_that_is_also_a_value(tmp_path):
    rows = "".join(f"{i / 10},{'abc'[i % 3]},{i % 2}\n" for i in range(30))
    path = _write(tmp_path / "c.csv", "x,c,y\n" + rows)
    df = read_table(path)
    assert list(df.columns) == ["x", "c", "y"] and len(df) == 30


def test_headerless_numbers_get_generated_names(tmp_path):
    path = _write(tmp_path / "n.csv", "1.8,80\n1.6,55\n1.7,60\n")
    df = read_table(path)
    assert list(df.columns) == ["column_1", "column_2"]
    assert len(df) == 3


def test_header_option_overrides_detection(tmp_path):
    path = _write(tmp_path / "n.csv", "1.8,80\n1.6,55\n")
    df = read_table(path, header=True)
    assert list(df.columns) == ["1.8", "80"] and len(df) == 1


def test_names_replace_a_detected_header(tmp_path):
    path = _write(tmp_path / "h.csv", "h,w\n1.8,80\n1.6,55\n")
    df = read_table(path, names=["height", "weight"])
    assert list(df.columns) == ["height", "weight"] and len(df) == 2


def test_string_columns_header_detected_from_categories(tmp_path):
    rows = "".join(f"message number {i},{'spam' if i % 3 else 'ham'}\n" for i in range(8))
    path = _write(tmp_path / "s.csv", "text,label\n" + rows)
    df = read_table(path)
    assert list(df.columns) == ["text", "label"] and len(df) == 8


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfname,age\nann,3\n")
    assert list(read_table(path).columns) == ["name", "age"]


def test_names_count_mismatch(tmp_path):
    path = _write(tmp_path / "n.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match=r"2 column names were given .* first line of n\.csv has 3 fields"):
        read_table(path, names=["a", "b"])


def test_line_with_too_many_fields(tmp_path):
    path = _write(tmp_path / "bad.csv", "a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"bad\.csv line 3 has 3 fields but the header has 2 \(delimiter ','\)"):
        read_table(path)


def test_bad_delimiter_option(tmp_path):
    path = _write(tmp_path / "a.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match="delimiter must be one character"):
        read_table(path, delimiter=",,")


# --- encodings ----------------------------------------------------------------------------------
def test_latin1_file_error_names_byte_offset_and_line(tmp_path):
    path = _write(tmp_path / "fr.csv", "name,age\nbob,30\ncafé,40\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"fr\.csv is not valid utf-8: byte 0xe9 at byte offset 19 \(line 3\)") as err:
        read_table(path)
    assert "data.encoding" in str(err.value) and "latin-1" in str(err.value)


def test_latin1_file_reads_with_its_encoding(tmp_path):
    path = _write(tmp_path / "fr.csv", "name,age\nbob,30\ncafé,40\n", encoding="latin-1")
    assert read_table(path, encoding="latin-1")["name"].tolist() == ["bob", "café"]


def test_bad_byte_beyond_the_sniffed_head_is_found(tmp_path):
    lines = ["id,word\n"] + [f"{i},plain\n" for i in range(20_000)]
    offset = len("".join(lines).encode())
    path = tmp_path / "big.csv"
    path.write_bytes("".join(lines).encode() + b"20000,caf\xe9\n")
    with pytest.raises(DataError, match=rf"byte 0xe9 at byte offset {offset + 9} \(line 20002\)"):
        read_table(path)
    with pytest.raises(DataError, match=r"line 20002"):
        _concat(read_chunks(path, chunksize=5000))


def test_jsonl_encoding_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"byte 0xe9 at byte offset 22 \(line 2\)"):
        read_table(path)


def test_unknown_encoding(tmp_path):
    path = _write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(DataError, match="Unknown text encoding 'latin-9x'"):
        read_table(path, encoding="latin-9x")


# --- file-level errors ------------------------------------------------------------------------
def test_missing_file_suggests_a_sibling(tmp_path):
    _write(tmp_path / "data.csv", "a\n1\n")
    with pytest.raises(DataError, match=r"Data file dta\.csv not found in .*\. Did you mean 'data\.csv'\?"):
        read_table(tmp_path / "dta.csv")


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="the folder .*nowhere does not exist either"):
        read_table(tmp_path / "nowhere" / "data.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv is empty \(0 bytes\)"):
        read_table(path)


def test_blank_lines_only(tmp_path):
    path = _write(tmp_path / "blank.csv", "\n\n  \n")
    with pytest.raises(DataError, match="holds no rows"):
        read_table(path)


def test_header_but_no_rows(tmp_path):
    path = _write(tmp_path / "head.csv", "text,label\n")
    with pytest.raises(DataError, match=r"head\.csv has a header line \(text, label\) but no data rows"):
        read_table(path)
    with pytest.raises(DataError, match="header line .* but no data rows"):
        read_chunks(path, chunksize=10)


def test_permission_denied(tmp_path, monkeypatch):
    path = _write(tmp_path / "secret.csv", "a\n1\n")
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(readers, "open", deny, raising=False)  # chmod does not stop root
    with pytest.raises(DataError, match=r"Cannot read .*secret\.csv: permission denied"):
        read_table(path)


def test_binary_garbage_named_csv(tmp_path):
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"noise\.csv looks like a binary file, not text"):
        read_table(path)


def test_parquet_named_csv(tmp_path):
    write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "real.parquet")
    path = tmp_path / "fake.csv"
    path.write_bytes((tmp_path / "real.parquet").read_bytes())
    with pytest.raises(DataError, match="it is a Parquet file; rename it to .parquet"):
        read_table(path)


def test_corrupt_parquet(tmp_path):
    write_table(pd.DataFrame({"a": range(100)}), tmp_path / "ok.parquet")
    path = tmp_path / "cut.parquet"
    path.write_bytes((tmp_path / "ok.parquet").read_bytes()[:-30])
    with pytest.raises(DataError, match=r"cut\.parquet is not a readable Parquet file"):
        read_table(path)
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_chunks(path, chunksize=10)


def test_unknown_extension(tmp_path):
    path = _write(tmp_path / "data.xlsx", "whatever")
    with pytest.raises(DataError, match=r"Unknown format for data\.xlsx: the extension '\.xlsx'.*data\.format"):
        read_table(path)


def test_unknown_format_option(tmp_path):
    path = _write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(DataError, match=r"Unknown data format 'parqet'\. Did you mean 'parquet'\?"):
        read_table(path, format="parqet")


def test_format_option_overrides_extension(tmp_path):
    path = _write(tmp_path / "data.dat", "a,b\n1,2\n")
    assert read_table(path, format="csv").shape == (1, 2)


def test_source_must_be_a_path():
    with pytest.raises(DataError, match="already a DataFrame"):
        read_table(pd.DataFrame({"a": [1]}))
    with pytest.raises(DataError, match="must be a file path"):
        read_table(42)


def test_csv_options_for_parquet_are_reported_as_ignored(tmp_path, caplog):
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.parquet")
    with caplog.at_level(logging.WARNING, logger="traincraft.data.readers"):
        read_table(path, delimiter=";")
    assert "delimiter apply to CSV/TSV only and are ignored" in caplog.text


# --- Parquet and JSONL ---------------------------------------------------------------------------
def _mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [0.5, -1.25, np.nan, 3.0],
            "n": [1, 2, 3, 4],
            "word": ["a", "b", None, "d é"],
            "flag": [True, False, True, False],
        }
    )


def test_parquet_round_trip(tmp_path):
    frame = _mixed_frame()
    path = write_table(frame, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_parquet_named_index_becomes_a_column(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 20], name="key"))
    frame.to_parquet(tmp_path / "i.parquet")
    df = read_table(tmp_path / "i.parquet")
    assert list(df.columns) == ["key", "a"] and df["key"].tolist() == [10, 20]
    assert isinstance(df.index, pd.RangeIndex)


def test_jsonl_round_trip(tmp_path):
    frame = _mixed_frame()
    path = write_table(frame, tmp_path / "t.jsonl")
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_ndjson_extension_and_blank_lines(tmp_path):
    path = _write(tmp_path / "t.ndjson", '{"a": 1}\n\n{"a": 2, "b": "x"}\n')
    df = read_table(path)
    assert df["a"].tolist() == [1, 2] and df["b"].isna().tolist() == [True, False]


def test_jsonl_malformed_line(tmp_path):
    path = _write(tmp_path / "bad.jsonl", '{"a": 1}\n{"a": 2,}\n{"a": 3}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl line 2 is not valid JSON"):
        read_table(path)


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = _write(tmp_path / "list.jsonl", '{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"list\.jsonl line 2 is a JSON list, not an object"):
        read_table(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_chunks_equal_whole_read(tmp_path, suffix):
    frame = pd.DataFrame({"i": np.arange(1050), "w": [f"w{i % 7}" for i in range(1050)], "v": np.linspace(0, 1, 1050)})
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=300)
    else:
        write_table(frame, path)
    whole = read_table(path)
    chunks = list(read_chunks(path, chunksize=400))
    assert [len(c) for c in chunks] == [400, 400, 250]
    assert [c.index[0] for c in chunks] == [0, 400, 800]
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)


def test_chunksize_must_be_positive(tmp_path):
    path = _write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(DataError, match="chunksize must be a positive whole number"):
        read_chunks(path, chunksize=0)


# --- image folders ----------------------------------------------------------------------------
def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8)).save(path)


def test_image_folder(tmp_path):
    root = tmp_path / "pets"
    _png(root / "cat" / "a.png", 10)
    _png(root / "cat" / "b.PNG", 20)
    _png(root / "dog" / "c.png", 30)
    (root / "dog" / "notes.txt").write_text("not an image")
    df = read_table(root)
    assert list(df.columns) == ["image", "label"]
    assert df["label"].tolist() == ["cat", "cat", "dog"]
    assert all(Path(p).is_absolute() and Path(p).exists() for p in df["image"])
    assert Path(df.loc[2, "image"]).name == "c.png"
    assert _concat(read_chunks(root, chunksize=2)).equals(df)


def test_folder_without_class_subfolders(tmp_path):
    _write(tmp_path / "tables" / "a.csv", "a\n1\n")
    with pytest.raises(DataError, match=r"is a folder, not an image folder: it holds files \(\.csv\)"):
        read_table(tmp_path / "tables")


def test_loose_images_without_class_folders(tmp_path):
    _png(tmp_path / "imgs" / "a.png", 1)
    with pytest.raises(DataError, match="holds 1 images directly but no class subfolders"):
        read_table(tmp_path / "imgs")


def test_folder_with_a_file_format(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError, match="is a folder, but format 'csv' needs a file"):
        read_table(tmp_path / "d", format="csv")


# --- arrays and writing -----------------------------------------------------------------------
def test_from_arrays_default_names():
    df = from_arrays(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
    assert list(df.columns) == ["x0", "x1", "label"]
    assert df["label"].tolist() == [0, 1, 0]


def test_from_arrays_feature_names_and_label():
    df = from_arrays([[1.0, 2.0]], ["yes"], feature_names=["a", "b"], label="y")
    assert list(df.columns) == ["a", "b", "y"]


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "message"),
    [
        (np.arange(3), None, {}, r"X must be a 2-D array .* got shape \(3,\)\. Use X\.reshape\(-1, 1\)"),
        (np.zeros((2, 2, 2)), None, {}, r"X must be a 2-D array .* got shape \(2, 2, 2\)"),
        (np.zeros((3, 2)), np.zeros(2), {}, "X has 3 rows but y has 2 labels"),
        (np.zeros((3, 2)), np.zeros((3, 2)), {}, r"y must be 1-D .* got shape \(3, 2\)"),
        (np.zeros((3, 2)), None, {"feature_names": ["a"]}, "X has 2 columns but 1 feature_names"),
        (np.zeros((3, 2)), None, {"feature_names": ["a", "a"]}, "feature_names must be unique; repeated: a"),
        (np.zeros((3, 2)), np.zeros(3), {"label": "x1"}, "label name 'x1' is also a feature name"),
        (np.zeros((0, 2)), None, {}, "at least one row and one feature"),
    ],
)
def test_from_arrays_errors(X, y, kwargs, message):
    with pytest.raises(DataError, match=message):
        from_arrays(X, y, **kwargs)


def test_write_table_unknown_extension(tmp_path):
    with pytest.raises(DataError, match=r"Cannot write out\.xlsx: unknown extension '\.xlsx'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")


def test_write_table_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "out" / "t.csv"
    write_table(pd.DataFrame({"a": [1]}), path)
    write_table(pd.DataFrame({"a": [2, 3]}), path)
    assert read_table(path)["a"].tolist() == [2, 3]
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temporary file left


def test_write_parquet_mixed_column_error(tmp_path):
    frame = pd.DataFrame({"a": pd.Series([1, "x"], dtype=object)})
    with pytest.raises(DataError, match="Cannot write m.parquet as Parquet: .*mixes types"):
        write_table(frame, tmp_path / "m.parquet")
    assert not any(tmp_path.iterdir())
