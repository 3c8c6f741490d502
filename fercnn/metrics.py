"""Classification metrics: accuracy, confusion matrix, per-class accuracy table."""
import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """counts (K, K): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: y_true has shape {y_true.shape}, y_pred {y_pred.shape}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_accuracy(cm):
    """Fraction of each true class predicted correctly (the diagonal of the row-normalised matrix)."""
    totals = cm.sum(axis=1)
    return np.divide(np.diag(cm), totals, out=np.zeros(len(cm)), where=totals > 0)


def per_class_table(cm, class_names):
    """Text table of per-class accuracy and counts, plus the overall accuracy."""
    acc = per_class_accuracy(cm)
    lines = [f"{'class':<10}{'accuracy':>10}{'correct':>9}{'total':>7}"]
    for name, a, c, t in zip(class_names, acc, np.diag(cm), cm.sum(axis=1)):
        lines.append(f"{name:<10}{100 * a:>9.1f}%{c:>9}{t:>7}")
    lines.append(f"{'overall':<10}{100 * np.trace(cm) / max(cm.sum(), 1):>9.1f}%{np.trace(cm):>9}{cm.sum():>7}")
    return "\n".join(lines)
