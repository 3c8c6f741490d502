"""Exercises: write fercnn's layers yourself, and a grader that says what is wrong.

    fercnn exercises start DIR            # layers.py, optim.py, README.md to fill in
    fercnn exercises check DIR [NAME...]  # one line per function: passes, or what is off
    fercnn train shallow --layers DIR     # the paper's shallow network on your layers

The grader runs the checks the project's tests run on fercnn's own ops (fercnn.exercises.checks
over the registry fercnn.exercises.registry), so fercnn's readable layers pass it by
construction. docs/exercises.md lists the mistakes it recognises. Importing this package
imports no learner code and compiles nothing.
"""


def load(folder):
    """(layers, optim): the two modules of an exercise folder, imported by path.

        layers, optim = fercnn.exercises.load("ex")
        model = fercnn.models.shallow(ops=layers)

    A file that is missing or does not import is a ValueError naming it (and the line).
    """
    from fercnn.exercises.grader import Learner

    learner = Learner(folder)
    if learner.failed:
        raise ValueError("; ".join(learner.failed.values()))
    return learner.modules["layers.py"], learner.modules["optim.py"]
