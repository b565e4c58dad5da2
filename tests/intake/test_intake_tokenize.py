import numpy as np

from triage_ray.intake.tokenize import encode, encode_records, field_tokens, record_texts, train_tokenizer


def test_field_tokens_are_atomic_and_text_follows(records):
    df = records[0]
    texts = record_texts(df.head(200))
    tok = train_tokenizer(texts, vocab_size=300)
    enc = tok.encode(texts[0])
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert enc.tokens[1].startswith("[AGE_")  # structured tokens come first, unsplit
    vocab = tok.get_vocab()
    assert all(t in vocab for t in field_tokens())
    assert len(set(field_tokens())) == len(field_tokens())


def test_missing_and_abnormal_values_become_tokens(records):
    df = records[0].head(50).copy()
    df.loc[df.index[0], ["hr", "spo2", "temp_c"]] = [160.0, 83.0, np.nan]
    text = record_texts(df)[0]
    assert "[HR_CRIT_HIGH]" in text and "[SPO2_CRIT]" in text and "[TEMP_NA]" in text


def test_vocabulary_comes_from_the_training_texts_only():
    tok = train_tokenizer(["chest pain", "chest pain sob"] * 5, vocab_size=100)
    assert "chest" in tok.get_vocab()
    assert "zebra" not in tok.get_vocab()  # never seen in training: split or unknown
    ids, mask = encode(tok, ["zebra chest"], max_len=12)
    assert ids.shape == (1, 12) and mask.sum() < 12 and mask[0, 0] == 1


def test_encode_records_batch(records):
    df = records[0].head(30).assign(split=["val"] * 10 + ["test"] * 20)
    tok = train_tokenizer(record_texts(df), vocab_size=200)
    out = encode_records(df, tok.to_str(), max_len=16)
    assert out["input_ids"].shape == (30, 16) and out["attention_mask"].dtype == np.int32
    assert out["is_test"].sum() == 20
    np.testing.assert_array_equal(out["urgency"], df.urgency.to_numpy())
