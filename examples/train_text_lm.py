"""Word-level language models on real English text: a simple RNN and an LSTM.

The two recurrent networks of "Complex neural networks made easy by Chainer" predict the
next word from the words so far. ``SimpleRNN`` is the article's class as written there;
``LSTMLanguageModel`` is the "off-the-shelf" LSTM it compares with (``L.EmbedID`` ->
``L.LSTM`` -> ``L.Linear``). The text is the bundled corpus of ``dg.datasets``
(``get_text_corpus``: the Python documentation prose, ~110 000 words, split 80/10/10),
with the vocabulary capped to the most frequent words (the rest become ``<unk>``).

Training is truncated backpropagation through time: ``--batchsize`` parallel streams
read the training text; every ``--bproplen`` words the summed loss is backpropagated,
``loss.unchain_backward()`` cuts the graph behind the current state (so the state carries
on but the tape does not grow), and Adam updates the parameters.

Both models are scored by perplexity, ``exp(mean cross entropy per word)``, on the
validation and test splits and compared with the add-one-smoothed unigram model (word
frequencies alone). Then, as in the article, each model continues the prompts
"If you build it, ..." by weighted sampling from its predicted distribution.

    python examples/train_text_lm.py [--quick] [--vocab 2000] [--unit 100]
                                     [--iterations 300] [--seed 0]
"""

import argparse
import math
import time

import numpy

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import Chain
from dualgrad.datasets import text

QUICK = {"vocab": 500, "unit": 64, "iterations": 150}  # --quick: a few seconds per model
PROMPTS = (
    "If you build it,",
    "If you build it, they",
    "If you build it, they will",
    "If you build it, they will come",
)


# Definition of simple recurrent neural network (the article's class, unchanged)
class SimpleRNN(Chain):
    def __init__(self, n_vocab, n_nodes):
        super(SimpleRNN, self).__init__(  # noqa: UP008  (kept as the article writes it)
            embed=L.EmbedID(n_vocab, n_nodes),  # word embedding
            x2h=L.Linear(n_nodes, n_nodes),  # the first linear layer
            h2h=L.Linear(n_nodes, n_nodes),  # the second linear layer
            h2y=L.Linear(n_nodes, n_vocab),  # the feed-forward output layer
        )
        self.h_internal = None  # recurrent state

    def forward_one_step(self, x, h):
        x = F.tanh(self.embed(x))
        if h is None:  # branching in network
            h = F.tanh(self.x2h(x))
        else:
            h = F.tanh(self.x2h(x) + self.h2h(h))
        y = self.h2y(h)
        return y, h

    def __call__(self, x):
        # given the current word ID, predict the next word ID.
        y, h = self.forward_one_step(x, self.h_internal)
        self.h_internal = h  # update internal state
        return y


class LSTMLanguageModel(Chain):
    """``embed -> LSTM -> linear``: ``L.LSTM`` keeps its cell and hidden state between calls."""

    def __init__(self, n_vocab, n_units):
        super().__init__()
        with self.init_scope():
            self.embed = L.EmbedID(n_vocab, n_units)
            self.lstm = L.LSTM(n_units, n_units)
            self.out = L.Linear(n_units, n_vocab)

    def reset_state(self):
        self.lstm.reset_state()

    def __call__(self, x):
        return self.out(self.lstm(self.embed(x)))


def reset_state(model):
    """Forget the recurrent state (the SimpleRNN keeps it in ``h_internal``)."""
    if isinstance(model, SimpleRNN):
        model.h_internal = None
    else:
        model.reset_state()


def parallel_streams(ids, batchsize):
    """``ids`` cut into ``batchsize`` contiguous streams: array ``(batchsize, length)``."""
    length = len(ids) // batchsize
    return ids[:length * batchsize].reshape(batchsize, length)


def train_bptt(model, train_ids, args):
    """Truncated BPTT with Adam; returns the mean training loss of the last 50 updates."""
    optimizer = dg.optimizers.Adam(alpha=args.lr)
    optimizer.setup(model)
    optimizer.add_hook(dg.optimizer_hooks.GradientClipping(5.0))
    streams = parallel_streams(train_ids, args.batchsize)
    position, losses = 0, []
    reset_state(model)
    for _ in range(args.iterations):
        loss = 0
        for _ in range(args.bproplen):
            if position + 1 >= streams.shape[1]:  # end of the text: start over
                position = 0
                reset_state(model)
            x, t = streams[:, position], streams[:, position + 1]
            loss += F.softmax_cross_entropy(model(x), t)
            position += 1
        model.cleargrads()
        loss.backward()
        loss.unchain_backward()  # keep the state, drop the graph behind it
        optimizer.update()
        losses.append(float(loss.array) / args.bproplen)
    return float(numpy.mean(losses[-50:]))


def perplexity(model, ids, batchsize=16):
    """``exp(mean cross entropy)`` of the next-word predictions over ``ids``."""
    streams = parallel_streams(ids, batchsize)
    total = 0.0
    reset_state(model)
    with dg.using_config("train", False), dg.no_backprop_mode():
        for position in range(streams.shape[1] - 1):
            x, t = streams[:, position], streams[:, position + 1]
            total += float(F.softmax_cross_entropy(model(x), t).array)
    return math.exp(total / (streams.shape[1] - 1))


def continue_prompt(model, vocab, prompt, n_words=10):
    """Feed the prompt, then sample ``n_words`` words, each from the predicted softmax."""
    index = {word: i for i, word in enumerate(vocab)}
    words = [w for w in text.tokenize(prompt) if w != text.EOS]
    ids = [index.get(w, index[text.UNK]) for w in words]
    reset_state(model)
    generated = []
    with dg.using_config("train", False), dg.no_backprop_mode():
        for word_id in ids:
            y = model(numpy.array([word_id], dtype=numpy.int32))
        for _ in range(n_words):
            p = F.softmax(y).array[0].astype(numpy.float64)
            word_id = numpy.random.choice(len(p), p=p / p.sum())  # weighted sampling
            generated.append(vocab[word_id])
            y = model(numpy.array([word_id], dtype=numpy.int32))
    return " ".join(generated)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smaller vocabulary and fewer updates (for tests)")
    parser.add_argument("--vocab", type=int, default=2000, help="vocabulary size cap")
    parser.add_argument("--unit", "-u", type=int, default=100)
    parser.add_argument("--batchsize", "-b", type=int, default=32,
                        help="number of parallel streams")
    parser.add_argument("--bproplen", type=int, default=20,
                        help="words between truncations of backpropagation")
    parser.add_argument("--iterations", type=int, default=300, help="updates per model")
    parser.add_argument("--lr", type=float, default=0.005, help="Adam's step size (alpha)")
    parser.add_argument("--seed", type=int, default=0)
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**QUICK)  # options given explicitly still win
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    numpy.random.seed(args.seed)
    train, valid, test, vocab = text.get_text_corpus(level="word", vocab_size=args.vocab)
    print(f"corpus: {len(train)} / {len(valid)} / {len(test)} words (train / valid / test), "
          f"vocabulary {len(vocab)}")
    baseline = {"valid": text.unigram_perplexity(train, valid, len(vocab)),
                "test": text.unigram_perplexity(train, test, len(vocab))}
    print(f"{'model':>10}  {'valid ppl':>9}  {'test ppl':>9}  vs unigram")
    print(f"{'unigram':>10}  {baseline['valid']:9.1f}  {baseline['test']:9.1f}")
    results = {"unigram": baseline}
    models = {"SimpleRNN": SimpleRNN(len(vocab), args.unit),
              "LSTM": LSTMLanguageModel(len(vocab), args.unit)}
    for name, model in models.items():
        start = time.perf_counter()
        train_bptt(model, train, args)
        scores = {"valid": perplexity(model, valid), "test": perplexity(model, test)}
        results[name] = scores
        print(f"{name:>10}  {scores['valid']:9.1f}  {scores['test']:9.1f}  "
              f"{100 * (1 - scores['test'] / baseline['test']):.0f}% lower "
              f"({time.perf_counter() - start:.1f} s)")
    for name, model in models.items():
        print(f"\n{name} continues the prompts:")
        for prompt in PROMPTS:
            print(f'"{prompt}" => "{continue_prompt(model, vocab, prompt)}"')
    return results


if __name__ == "__main__":
    main()
