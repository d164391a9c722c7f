"""A real English text corpus for language models that works offline.

The corpus is the Python reference documentation that ships inside every CPython
installation as ``pydoc_data.topics.topics`` (the text ``help('assert')`` prints):
about 460 KB of English prose written by people, in about 80 topics, under the PSF
license.

Why this text: language-model examples need real human-written sentences (synthetic
text has no structure worth learning and makes perplexity meaningless), the corpus
must be present on every machine without a download (tests and examples run
offline), and it must be large enough for a small word- or character-level model:
about 110 000 word tokens, the size of the Penn Treebank's test set (82 000 words)
that Chainer's PTB example evaluated on.  No other real prose of that size is
guaranteed to be installed.  The text differs a little between Python versions, so
sizes and vocabularies are fixed for a given Python, not across them.

Tokenisation (deterministic, no external tokenizer):

- heading underlines (``*****``, ``=====``) are dropped; paragraphs are separated by
  blank lines and their whitespace is collapsed; typographic quotes become ASCII ones;
- ``level='word'``: text is lowercased, words are runs of letters / digits / ``_``
  (with inner apostrophes, ``don't``), every other non-space character is its own
  token; each sentence (ending in ``.``, ``!`` or ``?``) and each paragraph ends with
  ``<eos>``, which replaces the sentence's final full stop;
- ``level='char'``: each character of a paragraph is a token (lowercased unless
  ``lower=False``), and each paragraph ends with ``<eos>``.

The token stream is split by position into 80% train, 10% valid, 10% test, each cut
moved forward to just after the next ``<eos>``.  The vocabulary is built from the train
part only: ``['<unk>', '<eos>']`` then tokens by decreasing count (ties by spelling);
tokens outside it (rare, or unseen in train) map to ``<unk>``, as in Chainer's PTB data.
"""

import collections
import functools
import math
import re
import typing

import numpy

from .digits import MissingDependencyError

UNK = "<unk>"
EOS = "<eos>"
SPLIT_FRACTIONS = (0.8, 0.9)

_UNDERLINE = re.compile(r"^\s*([*=\-~^#+])\1{2,}\s*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_ASCII_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


class TextCorpus(typing.NamedTuple):
    """``(train, valid, test, vocab)``: int32 token-id streams and the id -> token list."""

    train: numpy.ndarray
    valid: numpy.ndarray
    test: numpy.ndarray
    vocab: list


def load_raw_text():
    """The whole corpus as one string: the documentation topics in sorted order."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:  # some stripped-down Python builds leave it out
        raise MissingDependencyError(
            "this Python was installed without the 'pydoc_data' documentation module "
            "that get_text_corpus reads; use a full CPython installation"
        ) from error
    return "\n\n".join(topics[name] for name in sorted(topics))


def _paragraphs(text):
    text = _UNDERLINE.sub("", text).translate(_ASCII_QUOTES)
    for block in _PARAGRAPH_BREAK.split(text):
        paragraph = " ".join(block.split())
        if paragraph:
            yield paragraph


def _sentence_tokens(sentence):
    tokens = _WORD_TOKEN.findall(sentence)
    if tokens and tokens[-1] in (".", "!", "?"):
        tokens.pop()  # <eos> marks the end; keeping the stop would make it trivial
    return tokens


def tokenize(text, level="word", lower=True):
    """Split ``text`` into tokens with the corpus' rules (see the module docstring).

    >>> tokenize("Hello, world. Bye!")
    ['hello', ',', 'world', '<eos>', 'bye', '<eos>']
    >>> tokenize("Hi.", level="char")
    ['h', 'i', '.', '<eos>']
    """
    if level not in ("word", "char"):
        raise ValueError(f"level must be 'word' or 'char'; got {level!r}")
    tokens = []
    for paragraph in _paragraphs(text.lower() if lower else text):
        if level == "char":
            tokens.extend(paragraph)
            tokens.append(EOS)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            words = _sentence_tokens(sentence)
            if words:
                tokens.extend(words)
                tokens.append(EOS)
    return tokens


@functools.lru_cache(maxsize=4)
def _corpus_tokens(level, lower):
    return tuple(tokenize(load_raw_text(), level, lower))


def _cut_after_eos(tokens, position):
    """The index just after the first ``<eos>`` at or after ``position``."""
    for index in range(position, len(tokens)):
        if tokens[index] == EOS:
            return index + 1
    return len(tokens)


def build_vocabulary(tokens, vocab_size=None):
    """``['<unk>', '<eos>', most frequent tokens...]`` cut to ``vocab_size`` entries."""
    if vocab_size is not None and vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2 (<unk> and <eos>); got {vocab_size}")
    counts = collections.Counter(tokens)
    for special in (UNK, EOS):
        counts.pop(special, None)
    ranked = sorted(counts, key=lambda token: (-counts[token], token))
    vocab = [UNK, EOS, *ranked]
    return vocab if vocab_size is None else vocab[:vocab_size]


def encode(tokens, vocab):
    """Token ids (int32) under ``vocab``; tokens outside it become ``<unk>``'s id.

    >>> encode(['a', 'b', 'zzz', '<eos>'], ['<unk>', '<eos>', 'a', 'b'])
    array([2, 3, 0, 1], dtype=int32)
    """
    ids = {token: index for index, token in enumerate(vocab)}
    unk = ids[UNK]
    return numpy.fromiter((ids.get(token, unk) for token in tokens), dtype=numpy.int32,
                          count=len(tokens))


def decode(ids, vocab):
    """The tokens for ``ids``: ``[vocab[i] for i in ids]``."""
    return [vocab[int(i)] for i in ids]


def get_text_corpus(level="word", vocab_size=None, lower=True):
    """``TextCorpus(train, valid, test, vocab)`` from the bundled Python documentation.

    ``train``, ``valid`` and ``test`` are int32 arrays of token ids (one long stream
    each, sentences separated by ``<eos>``, like Chainer's ``get_ptb_words``);
    ``vocab[i]`` is the token with id ``i``.  ``vocab_size`` keeps only the most
    frequent tokens.

    >>> train, valid, test, vocab = get_text_corpus(vocab_size=1000)
    >>> len(vocab), vocab[:2], train.dtype
    (1000, ['<unk>', '<eos>'], dtype('int32'))
    >>> len(train) > 8 * len(test) > 0
    True
    """
    tokens = _corpus_tokens(level, lower)
    first_cut = _cut_after_eos(tokens, int(len(tokens) * SPLIT_FRACTIONS[0]))
    second_cut = _cut_after_eos(tokens, max(first_cut, int(len(tokens) * SPLIT_FRACTIONS[1])))
    parts = (tokens[:first_cut], tokens[first_cut:second_cut], tokens[second_cut:])
    vocab = build_vocabulary(parts[0], vocab_size)
    return TextCorpus(*(encode(part, vocab) for part in parts), vocab)


def unigram_perplexity(train, test, vocab_size):
    """Perplexity on ``test`` of the add-one-smoothed unigram model fitted on ``train``.

    ``p(w) = (count_train(w) + 1) / (len(train) + vocab_size)`` and the perplexity is
    ``exp(-mean(log p(w) for w in test))``.  A language model that does not beat
    this number has learned nothing beyond word frequencies.

    >>> round(unigram_perplexity(numpy.array([0, 0, 1]), numpy.array([0, 1]), 2), 4)
    2.0412
    """
    train = numpy.asarray(train)
    test = numpy.asarray(test)
    if len(test) == 0:
        raise ValueError("unigram_perplexity needs a non-empty test sequence")
    for name, ids in (("train", train), ("test", test)):
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"{name} holds ids outside 0..{vocab_size - 1} (vocab_size)")
    counts = numpy.bincount(train, minlength=vocab_size).astype(numpy.float64)
    log_p = numpy.log(counts + 1.0) - math.log(len(train) + vocab_size)
    return float(numpy.exp(-log_p[test].mean()))
