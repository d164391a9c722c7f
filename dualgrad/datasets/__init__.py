"""Datasets (Chainer's ``chainer.datasets``): containers, splits and offline real data.

Containers: ``TupleDataset``, ``SubDataset``, ``TransformDataset``; splits:
``split_dataset``, ``split_dataset_random``.  Real data that needs no download:
``get_digits`` (8x8 handwritten digits bundled with scikit-learn) and
``get_text_corpus`` (the Python documentation that ships with CPython).
"""

from .digits import MissingDependencyError, get_digits
from .sub_dataset import SubDataset, split_dataset, split_dataset_random
from .text import (
    EOS,
    UNK,
    TextCorpus,
    build_vocabulary,
    decode,
    encode,
    get_text_corpus,
    load_raw_text,
    tokenize,
    unigram_perplexity,
)
from .transform_dataset import TransformDataset
from .tuple_dataset import TupleDataset

__all__ = [
    "EOS", "UNK", "MissingDependencyError", "SubDataset", "TextCorpus", "TransformDataset",
    "TupleDataset", "build_vocabulary", "decode", "encode", "get_digits", "get_text_corpus",
    "load_raw_text", "split_dataset", "split_dataset_random", "tokenize",
    "unigram_perplexity",
]  # fmt: skip
