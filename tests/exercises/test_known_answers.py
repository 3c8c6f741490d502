"""fercnn's own ops and update rules against the shared checks that are not about one registry
case: the hand-computed answers (fercnn/exercises/known.py), batchnorm's running statistics
over several steps, dropout's behaviour, im2col and col2im, and every update rule step by step
(fercnn/exercises/behaviour.py, rules.py). The grader runs the same on a learner's functions."""
from types import SimpleNamespace

import pytest

import fercnn.layers.conv as conv
import fercnn.layers.reference as reference
from fercnn.exercises import behaviour, rules
from fercnn.exercises.known import KNOWN
from fercnn.train import optim


def _assert_all_ok(outcomes):
    assert outcomes
    failed = [o.message() for o in outcomes if not o.ok]
    assert not failed, failed


@pytest.mark.parametrize("family", sorted(KNOWN))
def test_known_answers(ops, family):
    _assert_all_ok(behaviour.known(family, ops))


def test_the_loops_of_reference_py_give_the_known_answers():
    loops = SimpleNamespace(conv_forward=reference.conv_forward_naive, conv_backward=reference.conv_backward_naive)
    _assert_all_ok(behaviour.known("conv", loops))


@pytest.mark.parametrize("family", ["batchnorm", "spatial_batchnorm"])
def test_running_statistics(ops, family):
    _assert_all_ok(behaviour.running_statistics(family, ops))


def test_dropout_behaviour(ops):
    _assert_all_ok(behaviour.dropout(ops))


def test_im2col_and_col2im_against_themselves():
    """The checks run (and compare the dtype and shape of every result) on fercnn's own."""
    _assert_all_ok(behaviour.columns(conv, conv))


@pytest.mark.parametrize("name", sorted(optim.RULES))
def test_update_rules(name):
    outcomes = rules.check(name, optim.RULES[name])
    assert len(outcomes) >= 5
    _assert_all_ok(outcomes)


@pytest.mark.parametrize("name", sorted(optim.RULES))
def test_every_mistake_model_is_caught_and_named(name):
    """Each common mistake of rules.MISTAKES, as a learner's rule, fails and is named (for the
    trajectory it was written for: models that equal fercnn's rule under a config are skipped)."""
    for mistake, sentence in rules.MISTAKES[name]:
        outcomes = rules.check(name, mistake)
        named = {o.diagnosis for o in outcomes if not o.ok}
        assert sentence in named or all(o.ok for o in outcomes if "steps" in o.check), (sentence, named)
