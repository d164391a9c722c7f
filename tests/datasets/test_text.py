"""The offline text corpus: tokenisation, vocabulary, ids, splits, unigram baseline."""

import numpy
import pytest

from dualgrad.datasets import (
    EOS,
    UNK,
    build_vocabulary,
    decode,
    encode,
    get_text_corpus,
    load_raw_text,
    tokenize,
    unigram_perplexity,
)


@pytest.fixture(scope="module")
def words():
    return get_text_corpus()


def test_tokenize_words_punctuation_and_sentence_ends():
    text = 'The "assert" statement\n***********\n\nIt isn\u2019t slow. Really?  Yes!\nDone'
    assert tokenize(text) == [
        "the", '"', "assert", '"', "statement", EOS,
        "it", "isn't", "slow", EOS, "really", EOS, "yes", EOS, "done", EOS,
    ]  # fmt: skip


def test_tokenize_keeps_inner_punctuation_and_case_on_request():
    assert tokenize("a.b(c), d") == ["a", ".", "b", "(", "c", ")", ",", "d", EOS]
    assert tokenize("Big Word", lower=False) == ["Big", "Word", EOS]
    assert tokenize("Ab\n\nc", level="char") == ["a", "b", EOS, "c", EOS]
    with pytest.raises(ValueError, match="level"):
        tokenize("x", level="byte")


def test_corpus_is_large_real_prose(words):
    raw = load_raw_text()
    assert len(raw) > 300_000
    assert "statement" in raw and "exception" in raw
    total = len(words.train) + len(words.valid) + len(words.test)
    assert total > 80_000
    eos = words.vocab.index(EOS)
    assert (words.train == eos).sum() > 3000  # thousands of sentences
    assert words.vocab[2:12].count("the") == 1  # the commonest English word ranks at the top


def test_splits_are_80_10_10_by_position_and_end_with_eos(words):
    sizes = numpy.array([len(words.train), len(words.valid), len(words.test)])
    numpy.testing.assert_allclose(sizes / sizes.sum(), [0.8, 0.1, 0.1], atol=0.01)
    eos = words.vocab.index(EOS)
    assert words.train[-1] == eos and words.valid[-1] == eos and words.test[-1] == eos


def test_ids_round_trip_to_the_tokenised_text(words):
    assert words.vocab[:2] == [UNK, EOS]
    assert len(set(words.vocab)) == len(words.vocab)
    for part in (words.train, words.valid, words.test):
        assert part.dtype == numpy.int32
        assert part.min() >= 0 and part.max() < len(words.vocab)
    tokens = tokenize(load_raw_text())
    n_train = len(words.train)
    # The vocabulary is built from train, so train decodes back exactly.
    assert decode(words.train, words.vocab) == tokens[:n_train]
    # valid/test decode to the text with words unseen in train replaced by <unk>.
    known = set(words.vocab)
    expected = [token if token in known else UNK for token in tokens[n_train:]]
    assert decode(numpy.concatenate([words.valid, words.test]), words.vocab) == expected
    numpy.testing.assert_array_equal(encode(tokens[:n_train], words.vocab), words.train)


def test_corpus_is_deterministic(words):
    again = get_text_corpus()
    assert again.vocab == words.vocab
    for a, b in zip(again[:3], words[:3]):
        numpy.testing.assert_array_equal(a, b)
    again.train[:] = 0  # callers get their own arrays, not a shared cache
    assert get_text_corpus().train[0] == words.train[0]


def test_vocab_size_keeps_the_most_frequent_tokens(words):
    small = get_text_corpus(vocab_size=500)
    assert len(small.vocab) == 500
    assert small.vocab == words.vocab[:500]
    assert small.train.max() == 499
    unk_rate = (small.train == 0).mean()
    assert 0.01 < unk_rate < 0.5
    with pytest.raises(ValueError, match="at least 2"):
        get_text_corpus(vocab_size=1)


def test_char_level_corpus():
    chars = get_text_corpus(level="char")
    assert chars.vocab[:2] == [UNK, EOS]
    assert {" ", "e", "t", "."} <= set(chars.vocab) and len(chars.vocab) < 200
    assert all(len(token) == 1 for token in chars.vocab[2:])
    assert len(chars.train) > 250_000
    text = "".join(decode(chars.train[:200], chars.vocab)).split(EOS)[0]
    assert text.startswith('the "assert" statement')


def test_build_vocabulary_orders_by_count_then_spelling():
    vocab = build_vocabulary(["b", "a", "c", "a", EOS, "b", "a"])
    assert vocab == [UNK, EOS, "a", "b", "c"]
    assert build_vocabulary(["x", "y"], vocab_size=3) == [UNK, EOS, "x"]


def test_unigram_perplexity_known_values():
    # p = (2+1)/5 and (1+1)/5: perplexity = 1 / sqrt(0.6 * 0.4).
    value = unigram_perplexity(numpy.array([0, 0, 1]), numpy.array([0, 1]), 2)
    assert value == pytest.approx(1 / numpy.sqrt(0.24))
    # Uniform counts give the uniform model: perplexity equals the vocabulary size.
    uniform = numpy.tile(numpy.arange(7), 10)
    assert unigram_perplexity(uniform, uniform, 7) == pytest.approx(7.0)


def test_unigram_perplexity_on_the_corpus_is_a_sane_baseline(words):
    vocab_size = len(words.vocab)
    on_train = unigram_perplexity(words.train, words.train, vocab_size)
    on_valid = unigram_perplexity(words.train, words.valid, vocab_size)
    assert 1 < on_train < on_valid < vocab_size
    assert 50 < on_train < 1000  # English-like word frequencies, far from uniform


def test_unigram_perplexity_rejects_bad_ids():
    with pytest.raises(ValueError, match="outside 0..2"):
        unigram_perplexity(numpy.array([0, 3]), numpy.array([0]), 3)
    with pytest.raises(ValueError, match="non-empty"):
        unigram_perplexity(numpy.array([0]), numpy.array([], dtype=int), 3)
