"""fercnn/metrics.py on cases worked out by hand: which way round the confusion matrix is
(rows = true class, columns = predicted, as the per-class tables of docs/REPRODUCTION.md read it)."""
import numpy as np
import pytest

from fercnn.metrics import confusion_matrix, per_class_accuracy, per_class_table

Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 0, 0, 2])  # class 0: 2 of 4 right, 1: 2 of 2, 2: 1 of 4


def test_confusion_matrix_rows_are_true_columns_predicted():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 1],
                                       [0, 2, 0],
                                       [3, 0, 1]])
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(Y_TRUE))  # rows count the true classes


def test_confusion_matrix_counts_a_class_never_seen():
    cm = confusion_matrix([0, 1], [1, 1], 4)
    assert cm.shape == (4, 4) and cm[0, 1] == 1 and cm[1, 1] == 1 and cm.sum() == 2


def test_per_class_accuracy():
    acc = per_class_accuracy(confusion_matrix(Y_TRUE, Y_PRED, 3))
    np.testing.assert_allclose(acc, [0.5, 1.0, 0.25])
    np.testing.assert_array_equal(per_class_accuracy(np.array([[1, 0], [0, 0]])), [1.0, 0.0])  # no examples: 0


def test_per_class_table():
    table = per_class_table(confusion_matrix(Y_TRUE, Y_PRED, 3), ["angry", "happy", "sad"]).splitlines()
    assert table[0].split() == ["class", "accuracy", "correct", "total"]
    assert table[1].split() == ["angry", "50.0%", "2", "4"]
    assert table[2].split() == ["happy", "100.0%", "2", "2"]
    assert table[3].split() == ["sad", "25.0%", "1", "4"]
    assert table[4].split() == ["overall", "50.0%", "5", "10"]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match=r"confusion_matrix: y_true has shape \(3,\), y_pred \(2,\)"):
        confusion_matrix([0, 1, 2], [0, 1], 3)
