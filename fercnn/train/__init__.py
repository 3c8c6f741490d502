"""Training: the Solver, its state and checkpoint files, and the update rules.

    from fercnn.train import Solver
    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 1e-2})
    solver.train()

What the Solver needs of a model is stated once, in fercnn/train/contract.py.
"""
from fercnn.train.optim import RULES, adam, get_rule, rmsprop, sgd, sgd_momentum
from fercnn.train.solver import Solver

__all__ = ["Solver", "RULES", "get_rule", "sgd", "sgd_momentum", "rmsprop", "adam"]
