"""save_npz / load_npz for links and optimizers, and the file format they write."""

import io

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad import serializers
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.optimizers import SGD, Adam, MomentumSGD
from dualgrad.serializers import (
    DictionarySerializer,
    NpzDeserializer,
    SerializerKeyError,
    is_none_marker,
    load_npz,
    save_npz,
)


class Affine(dg.Link):
    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        rng = numpy.random.RandomState(seed)
        with self.init_scope():
            self.W = dg.Parameter((rng.randn(n_out, n_in) * 0.5).astype(numpy.float32))
            self.b = dg.Parameter(numpy.zeros(n_out, numpy.float32))
        self.add_persistent("calls", 0)

    def forward(self, x):
        return F.linear(x, self.W, self.b)


class Net(dg.Chain):
    def __init__(self, n_in=3, n_hidden=4, seed=0):
        super().__init__()
        with self.init_scope():
            self.l1 = Affine(n_in, n_hidden, seed=seed)
            self.l2 = Affine(n_hidden, 2, seed=seed + 1)

    def forward(self, x):
        return self.l2(F.tanh(self.l1(x)))


def data():
    rng = numpy.random.RandomState(5)
    return rng.randn(6, 3).astype(numpy.float32), rng.randn(6, 2).astype(numpy.float32)


def loss_fn(model, x, t):
    return F.mean_squared_error(model(x), t)


def arrays(link):
    return {path: param.array.copy() for path, param in link.namedparams()}


def assert_same_params(a, b):
    for (path, p), (_, q) in zip(a.namedparams(), b.namedparams()):
        numpy.testing.assert_array_equal(p.array, q.array, err_msg=path)


# -- links ---------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", [True, False])
def test_link_round_trip_loads_in_place(tmp_path, compression):
    source, target = Net(seed=0), Net(seed=7)
    source.l1.calls = 3
    save_npz(tmp_path / "net.npz", source, compression=compression)
    w = target.l1.W.array
    load_npz(str(tmp_path / "net.npz"), target)
    assert_same_params(source, target)
    assert target.l1.W.array is w  # in place: optimizers holding the array see it
    assert target.l1.calls == 3 and type(target.l1.calls) is int


def test_files_load_without_pickle_and_use_parameter_paths(tmp_path):
    model = Net()
    opt = Adam().setup(model)
    x, t = data()
    opt.update(loss_fn, model, x, t)
    save_npz(tmp_path / "model.npz", model)
    save_npz(tmp_path / "opt.npz", opt)
    with numpy.load(tmp_path / "model.npz", allow_pickle=False) as f:
        assert sorted(f.files) == ["l1/W", "l1/b", "l1/calls", "l2/W", "l2/b", "l2/calls"]
        numpy.testing.assert_array_equal(f["l1/W"], model.l1.W.array)
    with numpy.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        files = set(f.files)
        assert {"t", "epoch", "l1/W/m", "l1/W/v", "l1/W/t", "hyperparam/alpha"} <= files
        assert int(f["t"]) == 1
        numpy.testing.assert_array_equal(f["l1/W/m"], model.l1.W.update_rule.state["m"])


def test_file_objects_work_too():
    buffer = io.BytesIO()
    save_npz(buffer, Net(seed=1))
    buffer.seek(0)
    target = Net(seed=2)
    load_npz(buffer, target)
    assert_same_params(Net(seed=1), target)


# -- optimizers ----------------------------------------------------------------------------
def test_adam_state_and_counters_round_trip(tmp_path):
    model = Net()
    opt = Adam(alpha=0.02).setup(model)
    x, t = data()
    for _ in range(3):
        opt.update(loss_fn, model, x, t)
    opt.new_epoch()
    save_npz(tmp_path / "opt.npz", opt)
    other = Adam().setup(Net())
    load_npz(tmp_path / "opt.npz", other)
    assert (other.t, other.epoch, other.alpha) == (3, 1, 0.02)
    for (path, p), (_, q) in zip(model.namedparams(), other.target.namedparams()):
        assert q.update_rule.t == 3
        for key in ("m", "v"):
            numpy.testing.assert_array_equal(q.update_rule.state[key],
                                             p.update_rule.state[key], err_msg=path + key)


@pytest.mark.parametrize("make_opt", [lambda: Adam(alpha=0.05),
                                      lambda: Adam(alpha=0.05, amsgrad=True),
                                      lambda: MomentumSGD(lr=0.1)],
                         ids=["Adam", "AMSGrad", "MomentumSGD"])
def test_resumed_training_is_identical_to_uninterrupted_training(tmp_path, make_opt):
    x, t = data()
    model = Net()
    opt = make_opt().setup(model)
    for _ in range(3):
        opt.update(loss_fn, model, x, t)
    save_npz(tmp_path / "model.npz", model)
    save_npz(tmp_path / "opt.npz", opt)
    for _ in range(3):
        opt.update(loss_fn, model, x, t)

    resumed = Net(seed=11)
    resumed_opt = make_opt().setup(resumed)
    load_npz(tmp_path / "model.npz", resumed)
    load_npz(tmp_path / "opt.npz", resumed_opt)
    for _ in range(3):
        resumed_opt.update(loss_fn, resumed, x, t)
    assert_same_params(model, resumed)
    assert resumed_opt.t == opt.t == 6


def test_state_saved_before_the_first_update_resets_a_used_optimizer(tmp_path):
    fresh = Adam().setup(Net())
    save_npz(tmp_path / "fresh.npz", fresh)
    with numpy.load(tmp_path / "fresh.npz", allow_pickle=False) as f:
        assert is_none_marker(f["l1/W/m"])
    model = Net()
    used = Adam().setup(model)
    x, t = data()
    used.update(loss_fn, model, x, t)
    load_npz(tmp_path / "fresh.npz", used)
    assert used.t == 0
    assert model.l1.W.update_rule.state is None and model.l1.W.update_rule.t == 0


# -- failures change nothing ---------------------------------------------------------------
def test_shape_mismatch_names_the_path_and_both_shapes_and_changes_nothing(tmp_path):
    save_npz(tmp_path / "net.npz", Net(n_hidden=4, seed=0))
    target = Net(n_hidden=4, seed=9)
    # Only the last layer differs, so a loader that wrote as it went would have
    # overwritten l1 before noticing.
    with target.l2.init_scope():
        target.l2.b = dg.Parameter(numpy.ones(5, numpy.float32))
    before = arrays(target)
    with pytest.raises(ShapeError) as info:
        load_npz(tmp_path / "net.npz", target)
    message = str(info.value)
    assert "l2/b" in message and "(5,)" in message and "(2,)" in message
    assert isinstance(info.value, ValueError)
    for path, array in before.items():
        numpy.testing.assert_array_equal(dict(target.namedparams())[path].array, array)


def test_failed_optimizer_load_changes_nothing(tmp_path):
    x, t = data()
    model = Net()
    opt = Adam().setup(model)
    opt.update(loss_fn, model, x, t)
    save_npz(tmp_path / "opt.npz", opt)
    other_model = Net(n_in=5)
    other = Adam(alpha=0.5).setup(other_model)
    for _ in range(2):
        other.update(loss_fn, other_model, numpy.ones((6, 5), numpy.float32), t)
    m_before = other_model.l1.W.update_rule.state["m"].copy()
    with pytest.raises(ShapeError, match="l1/W/m"):
        load_npz(tmp_path / "opt.npz", other)
    assert (other.t, other.alpha, other_model.l1.W.update_rule.t) == (2, 0.5, 2)
    numpy.testing.assert_array_equal(other_model.l1.W.update_rule.state["m"], m_before)


def test_missing_keys_raise_unless_not_strict(tmp_path):
    small = Net()
    # The file lacks the l3 that the bigger model has.
    big = Net(seed=4)
    with big.init_scope():
        big.l3 = Affine(2, 2, seed=6)
    before = arrays(big)
    save_npz(tmp_path / "small.npz", small)
    with pytest.raises(SerializerKeyError, match="l3/W") as info:
        load_npz(tmp_path / "small.npz", big)
    assert isinstance(info.value, KeyError) and "strict=False" in str(info.value)
    for path, array in before.items():
        numpy.testing.assert_array_equal(dict(big.namedparams())[path].array, array)
    load_npz(tmp_path / "small.npz", big, strict=False)
    numpy.testing.assert_array_equal(big.l2.W.array, small.l2.W.array)
    numpy.testing.assert_array_equal(big.l3.W.array, before["/l3/W"])


def test_dtype_that_does_not_cast_is_refused(tmp_path):
    holder = dg.Link()
    holder.add_persistent("counts", numpy.zeros(3, numpy.int32))
    source = dg.Link()
    source.add_persistent("counts", numpy.array([0.5, 1.5, 2.5]))
    save_npz(tmp_path / "f.npz", source)
    with pytest.raises(DTypeError, match="counts"):
        load_npz(tmp_path / "f.npz", holder)


# -- paths, names, scalars, None -----------------------------------------------------------
class Record:
    """An object with a serialize method, as a trainer or an iterator has."""

    def __init__(self, model):
        self.model = model
        self.iteration = 0
        self.rate = 0.5
        self.done = False
        self.name = "run"
        self.note = None

    def serialize(self, serializer):
        self.model.serialize(serializer["model"])
        self.iteration = serializer("iteration", self.iteration)
        self.rate = serializer("rate", self.rate)
        self.done = serializer("done", self.done)
        self.name = serializer("name", self.name)
        self.note = serializer("note", self.note)


def test_scalars_strings_and_none_round_trip_without_pickle(tmp_path):
    record = Record(Net())
    record.iteration, record.rate, record.done, record.name = 7, 0.25, True, "second"
    save_npz(tmp_path / "r.npz", record)
    with numpy.load(tmp_path / "r.npz", allow_pickle=False) as f:
        assert is_none_marker(f["note"]) and str(f["name"]) == "second"
    loaded = Record(Net(seed=3))
    load_npz(tmp_path / "r.npz", loaded)
    assert (loaded.iteration, loaded.rate, loaded.done, loaded.name) == (7, 0.25, True, "second")
    assert type(loaded.iteration) is int and loaded.note is None
    assert_same_params(record.model, loaded.model)


def test_path_loads_a_part_of_a_larger_file(tmp_path):
    record = Record(Net(seed=1))
    save_npz(tmp_path / "r.npz", record)
    model = Net(seed=2)
    load_npz(tmp_path / "r.npz", model, path="model/")
    assert_same_params(record.model, model)


def test_objects_that_need_pickle_are_refused(tmp_path):
    record = Record(Net())
    record.note = {"a": 1}
    with pytest.raises(TypeError, match="pickle"):
        save_npz(tmp_path / "r.npz", record)


def test_ignore_names_skips_entries(tmp_path):
    save_npz(tmp_path / "net.npz", Net(seed=1))
    target = Net(seed=2)
    before = target.l2.W.array.copy()
    load_npz(tmp_path / "net.npz", target, ignore_names=["l2/W"])
    numpy.testing.assert_array_equal(target.l2.W.array, before)
    numpy.testing.assert_array_equal(target.l1.W.array, Net(seed=1).l1.W.array)


def test_dictionary_serializer_and_npz_deserializer_directly():
    source = Net(seed=1)
    serializer = DictionarySerializer()
    serializer.save(source)
    assert serializer.target["l1/W"] is source.l1.W.array
    target = Net(seed=2)
    NpzDeserializer(serializer.target).load(target)
    assert_same_params(source, target)
    assert isinstance(NpzDeserializer({}), serializers.Deserializer)


# -- lazy parameters -----------------------------------------------------------------------
class Lazy(dg.Link):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.W = dg.Parameter(dg.initializers.Constant(0.0))


def test_uninitialized_parameter_is_saved_as_none_and_filled_on_load(tmp_path):
    save_npz(tmp_path / "lazy.npz", Lazy())
    with numpy.load(tmp_path / "lazy.npz", allow_pickle=False) as f:
        assert is_none_marker(f["W"])
    still_lazy = Lazy()
    load_npz(tmp_path / "lazy.npz", still_lazy)
    assert still_lazy.W.array is None

    full = Lazy()
    full.W.initialize((2, 3))
    full.W.array[...] = numpy.arange(6).reshape(2, 3)
    save_npz(tmp_path / "full.npz", full)
    target = Lazy()
    load_npz(tmp_path / "full.npz", target)
    numpy.testing.assert_array_equal(target.W.array, full.W.array)
    assert target.W.array.dtype == numpy.float32


def test_optimizer_of_a_lazy_model_round_trips(tmp_path):
    model = Lazy()
    opt = SGD().setup(model)
    save_npz(tmp_path / "opt.npz", opt)
    other = SGD(lr=0.5).setup(Lazy())
    load_npz(tmp_path / "opt.npz", other)
    assert other.lr == 0.01 and other.t == 0


def test_lazy_linear_layer_is_filled_on_load(tmp_path):
    L = pytest.importorskip("dualgrad.links")
    trained = L.Linear(None, 3)
    trained(numpy.ones((2, 4), numpy.float32))
    save_npz(tmp_path / "linear.npz", trained)
    fresh = L.Linear(None, 3)
    load_npz(tmp_path / "linear.npz", fresh)
    numpy.testing.assert_array_equal(fresh.W.array, trained.W.array)
    x = numpy.random.RandomState(0).randn(2, 4).astype(numpy.float32)
    numpy.testing.assert_array_equal(fresh(x).array, trained(x).array)


def test_persistent_values_of_every_kind_round_trip(tmp_path):
    def make(scale):
        link = dg.Link()
        link.add_persistent("mean", numpy.full(2, scale, numpy.float32))
        link.add_persistent("count", numpy.float32(scale))
        link.add_persistent("steps", int(scale))
        link.add_persistent("later", None if scale == 0 else numpy.ones(3) * scale)
        return link

    save_npz(tmp_path / "p.npz", make(3))
    target = make(0)
    mean = target.mean
    load_npz(tmp_path / "p.npz", target)
    assert target.mean is mean and mean.tolist() == [3, 3]
    assert target.count == 3 and type(target.count) is numpy.float32
    assert target.steps == 3 and type(target.steps) is int
    numpy.testing.assert_array_equal(target.later, [3, 3, 3])
